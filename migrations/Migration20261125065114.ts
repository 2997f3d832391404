import { Migration } from '@mikro-orm/migrations';
import { placeCustomerOrderWithCaps } from './Migration20261125042822.js';

/** place_customer_order() writing each line's wholesale price (see the migration below). */
export const placeCustomerOrderWithWholesalePrices = `create or replace function place_customer_order(basket jsonb) returns jsonb language plpgsql as $$
declare
  instant timestamptz := (basket->>'at')::timestamptz;
  holds jsonb := coalesce(basket->'holds', '[]');
  answer jsonb;
  held integer;
begin
  -- The session first, in a statement of its own: a change to an offer's cap (updateOfferCap)
  -- takes the session FOR UPDATE, and a statement that waited for it reads what it committed only
  -- if it begins after the wait. The one below, begun before, would see the offer uncapped and
  -- leave its lines uncounted.
  perform 1 from sales_session where id = (basket->>'salesSessionId')::uuid for key share;
  -- A basket of capped offers locks them in id order, after the session and before its order
  -- takes its idempotency key: the order every writer takes them in, so two baskets of the same
  -- offers, or two checkouts of the same key, never wait for each other in opposite orders.
  if basket ? 'cappedOfferIds' then
    perform 1 from offer where id = any(array(select jsonb_array_elements_text(basket->'cappedOfferIds')::uuid))
     order by id for no key update;
  end if;
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
    -- With the producer's wholesale price as the checkout read it (null from a previous version's basket).
    insert into customer_order_line (id, created_at, customer_order_id, offer_id, product_id, producer_order_id,
                                     quantity, unit_price_amount, currency, wholesale_price_amount, wholesale_currency)
    select gen_random_uuid(), instant, placed.id, l.offer_id, l.product_id, po.id, l.quantity, l.price_amount, l.currency,
           l.wholesale_amount, l.wholesale_currency
      from placed
     cross join jsonb_to_recordset(basket->'lines') as l(offer_id uuid, product_id uuid, producer_id uuid,
                                                        quantity numeric, price_amount int, currency text,
                                                        wholesale_amount int, wholesale_currency text)
      join producer_order po on po.sales_session_id = placed.sales_session_id and po.producer_id = l.producer_id
    returning offer_id, product_id, producer_order_id, quantity),
  capped as (
    -- What the lines take of capped offers; the offer's CHECK refuses the basket past a cap.
    update offer f set taken = f.taken + c.quantity
      from (select offer_id, sum(quantity) as quantity from lines group by offer_id) c
     where f.id = c.offer_id and f.cap is not null
    returning 1),
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

/**
 * Each customer order line keeps the producer's wholesale price of its product as it was at
 * checkout (Product.wholesalePrice), as it keeps the hub's price: a producer order's lines and
 * total say what the hub owes, whatever the producer's price later. The checkout sends the price
 * with each line (`wholesale_amount`, `wholesale_currency`) and place_customer_order() writes it;
 * lines from before, or from a previous version's replica during the rollout, have none (null).
 *
 * Nullable columns: no rewrite. The CHECK reads the table once, while holding it: a simple test per
 * row (under a second per million lines). Added NOT VALID it would skip that, but stay marked not
 * valid, which the schema diff (npm run migration:create) would then report as a change forever.
 */
export class Migration20261125065114 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "customer_order_line" add column "wholesale_price_amount" int null, add column "wholesale_currency" varchar(3) null;`);
    this.addSql(`alter table "customer_order_line" add constraint customer_order_line_wholesale_price_whole check((wholesale_price_amount IS NULL) = (wholesale_currency IS NULL) AND wholesale_price_amount >= 0);`);
    this.addSql(placeCustomerOrderWithWholesalePrices);
  }

  override async down(): Promise<void> {
    this.addSql(placeCustomerOrderWithCaps);
    this.addSql(`alter table "customer_order_line" drop constraint customer_order_line_wholesale_price_whole;`);
    this.addSql(`alter table "customer_order_line" drop column "wholesale_price_amount", drop column "wholesale_currency";`);
  }

}
