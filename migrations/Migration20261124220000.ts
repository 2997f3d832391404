import { Migration } from '@mikro-orm/migrations';
import { placeCustomerOrderV1 } from './Migration20261124200000.js';

/**
 * place_customer_order() gives a hold's ledger rows their customer order and producer orders
 * itself: the order it has just placed, and the producer order each product's line joined. So a
 * checkout plans its hold before it knows its producer orders, and the checkout that made its
 * producer's order in its own transaction writes its hold with its order too, in the same
 * statement, instead of in a second INSERT of its own. A basket's `holds` now carry only product,
 * location and quantity; the ids a previous version's replica still sends in them are ignored.
 *
 * It also refuses a basket whose hold would not be written whole (a hold of a product none of its
 * lines has), as it refuses one whose lines would not be.
 */
/** place_customer_order() as this migration installs it (Migration20261125042822 restores it on the way down). */
export const placeCustomerOrderV2 = `create or replace function place_customer_order(basket jsonb) returns jsonb language plpgsql as $$
declare
  instant timestamptz := (basket->>'at')::timestamptz;
  holds jsonb := coalesce(basket->'holds', '[]');
  answer jsonb;
  held integer;
begin
  with open_session as (
    select id from sales_session
     where id = (basket->>'salesSessionId')::uuid and completed_at is null and closed_at is null
       and opens_at <= instant and closes_at > instant
       for key share),
  placed as (
    insert into customer_order (id, created_at, updated_at, sales_session_id, hub_id, customer_ref, status,
                                hold_expires_at, idempotency_key, request_hash)
    select (basket->>'id')::uuid, instant, instant, open_session.id, (basket->>'hubId')::uuid, basket->>'customerRef', 'PENDING_PAYMENT',
           (basket->>'holdExpiresAt')::timestamptz, basket->>'idempotencyKey', basket->>'requestHash'
      from open_session
    on conflict (hub_id, idempotency_key) do nothing
    returning *),
  lines as (
    insert into customer_order_line (id, created_at, customer_order_id, offer_id, product_id, producer_order_id,
                                     quantity, unit_price_amount, currency)
    select gen_random_uuid(), instant, placed.id, l.offer_id, l.product_id, po.id, l.quantity, l.price_amount, l.currency
      from placed
     cross join jsonb_to_recordset(basket->'lines') as l(offer_id uuid, product_id uuid, producer_id uuid,
                                                        quantity numeric, price_amount int, currency text)
      join producer_order po on po.sales_session_id = placed.sales_session_id and po.producer_id = l.producer_id
    returning offer_id, product_id, producer_order_id),
  hold_ledger as (
    -- A product has one producer, so one producer order in the session, whichever of its lines.
    -- In (product, location) order, the order the hold's trigger must fire in.
    insert into stock_movement (product_id, location_id, kind, held_delta, customer_order_id, producer_order_id, created_at, applied_at_commit)
    select m.product_id, m.location_id, 'HOLD', m.held_delta, placed.id, line.producer_order_id, instant, true
      from placed
     cross join jsonb_to_recordset(holds) as m(product_id uuid, location_id uuid, held_delta numeric)
      join (select distinct product_id, producer_order_id from lines) line on line.product_id = m.product_id
     order by m.product_id, m.location_id
    returning 1)
  select jsonb_build_object(
           -- to_jsonb, not row_to_json: no JSON text parsed again into jsonb (bench/probe-place.ts).
           'order', (select to_jsonb(placed) from placed),
           'lines', (select coalesce(jsonb_agg(jsonb_build_object('offerId', offer_id, 'producerOrderId', producer_order_id)), '[]') from lines)),
         (select count(*) from hold_ledger)
    into answer, held;
  -- Every line joins its producer's order, and every hold a line; otherwise the order would be
  -- placed short of a line, or of stock it was planned to hold.
  if answer->'order' <> 'null' and (jsonb_array_length(answer->'lines') <> jsonb_array_length(basket->'lines')
                                     or held <> jsonb_array_length(holds)) then
    raise exception 'a basket line found no producer order, or a hold no line' using errcode = 'foreign_key_violation';
  end if;
  return answer;
end $$;`;

export class Migration20261124220000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(placeCustomerOrderV2);
  }

  override async down(): Promise<void> {
    this.addSql(placeCustomerOrderV1('create or replace'));
  }

}
