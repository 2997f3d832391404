import { Migration } from '@mikro-orm/migrations';
import { placeCustomerOrderV2 } from './Migration20261124220000.js';
import { placeCustomerOrdersV2 } from './Migration20261124230000.js';

/** place_customer_order() with offer caps (see the migration below). */
export const placeCustomerOrderWithCaps = `create or replace function place_customer_order(basket jsonb) returns jsonb language plpgsql as $$
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
    insert into customer_order_line (id, created_at, customer_order_id, offer_id, product_id, producer_order_id,
                                     quantity, unit_price_amount, currency)
    select gen_random_uuid(), instant, placed.id, l.offer_id, l.product_id, po.id, l.quantity, l.price_amount, l.currency
      from placed
     cross join jsonb_to_recordset(basket->'lines') as l(offer_id uuid, product_id uuid, producer_id uuid,
                                                        quantity numeric, price_amount int, currency text)
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
 * Offer caps: at most `cap` of an offer's product may be checked out in its session. `taken` is
 * what live orders hold of a capped offer: place_customer_order() raises it with the lines it
 * writes, in the same statement, and a release lowers it (releaseOfferCaps(), offer-caps.ts).
 * The CHECK `taken <= cap` refuses a basket past the cap, as the stock level's CHECK refuses an
 * oversell: place_customer_orders() reports it for that basket alone, and the checkout tries again
 * under lock for its exact answer.
 *
 * A hub may also cap an offer while its session is open, or change or lift its cap
 * (updateOfferCap): that takes the session FOR UPDATE, as a close does, and counts what live
 * orders hold. So place_customer_order() locks the session in a statement of its own before it
 * writes: a statement that waited for that lock keeps the snapshot it began with, and would read
 * the offer as uncapped and leave its lines out of the count.
 *
 * Offers are locked after the session and before the stock levels, in id order:
 * place_customer_orders() locks a batch's capped offers up front, and a basket of capped offers
 * (`cappedOfferIds`) locks them before writing its order, which takes its idempotency key.
 * Uncapped offers are never locked, and existing offers are uncapped, so nothing changes for
 * them; the new columns take their default without a table rewrite.
 */
export class Migration20261125042822 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "offer" add column "cap" numeric(15,3) null, add column "taken" numeric(15,3) not null default 0;`);
    this.addSql(`alter table "offer" add constraint offer_taken_not_negative check(taken >= 0);`);
    this.addSql(`alter table "offer" add constraint offer_cap_not_exceeded check(taken <= cap);`);
    this.addSql(`alter table "offer" add constraint offer_cap_positive check(cap > 0);`);
    this.addSql(placeCustomerOrderWithCaps);
    this.addSql(`create or replace function place_customer_orders(baskets jsonb) returns jsonb language plpgsql as $$
declare
  basket jsonb;
  answers jsonb := '[]';
  failed_constraint text;
  failed_message text;
begin
  -- After writes of a larger transaction, the SET below would fire that transaction's pending
  -- holds here, outside any basket's savepoint and before this batch's locks.
  if pg_current_xact_id_if_assigned() is not null then
    raise exception 'place_customer_orders() must run as a statement of its own';
  end if;
  set constraints stock_movement_apply_at_commit immediate;
  -- = any(array(...)): found by key, one index probe each, whatever the table sizes were when
  -- the plan was made (a join to the list could be planned as a scan of the whole table).
  perform 1 from sales_session
   where id = any(array(select distinct (b->>'salesSessionId')::uuid from jsonb_array_elements(baskets) b))
   order by id for key share;
  perform 1 from producer_order
   where id = any(array(select distinct po.id
                          from jsonb_array_elements(baskets) b, jsonb_array_elements(b->'lines') l, producer_order po
                         where po.sales_session_id = (b->>'salesSessionId')::uuid and po.producer_id = (l->>'producer_id')::uuid))
   order by id for key share;
  perform 1 from offer
   where id = any(array(select distinct (l->>'offer_id')::uuid
                          from jsonb_array_elements(baskets) b, jsonb_array_elements(b->'lines') l))
     and cap is not null
   order by id for no key update;
  perform 1 from stock_level
   where product_id = any(array(select distinct (h->>'product_id')::uuid
                                  from jsonb_array_elements(baskets) b, jsonb_array_elements(b->'holds') h))
   order by product_id, lock_seq for update;
  -- All a basket may still wait for is a transaction writing the same idempotency key (a client's
  -- retry), which may be waiting for the levels locked above: that basket gives up (55P03) and
  -- its checkout tries again alone, instead of the two deadlocking.
  perform set_config('lock_timeout', '50ms', true);
  for basket in select b from jsonb_array_elements(baskets) b loop
    begin
      -- Without a hold, the batch's locks and this savepoint would guard nothing: not a checkout's.
      if jsonb_array_length(coalesce(basket->'holds', '[]')) = 0 then
        raise exception 'a basket in a batch must have a hold' using errcode = 'invalid_parameter_value';
      end if;
      answers := answers || jsonb_build_array(place_customer_order(basket));
    exception when others then
      get stacked diagnostics failed_constraint = constraint_name, failed_message = message_text;
      answers := answers || jsonb_build_array(jsonb_build_object(
        'order', null, 'lines', '[]'::jsonb, 'error', jsonb_build_object('code', sqlstate, 'constraint', nullif(failed_constraint, ''), 'message', failed_message)));
    end;
  end loop;
  return answers;
end $$;`);
  }

  override async down(): Promise<void> {
    this.addSql(placeCustomerOrderV2);
    this.addSql(placeCustomerOrdersV2);
    this.addSql(`alter table "offer" drop constraint offer_taken_not_negative;`);
    this.addSql(`alter table "offer" drop constraint offer_cap_not_exceeded;`);
    this.addSql(`alter table "offer" drop constraint offer_cap_positive;`);
    this.addSql(`alter table "offer" drop column "cap", drop column "taken";`);
  }

}
