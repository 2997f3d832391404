import { Migration } from '@mikro-orm/migrations';
import { placeCustomerOrderWithWholesalePrices } from './Migration20261125065114.js';

/** place_customer_order() refusing a basket with an offer withdrawn since its checkout read it (see the migration below). */
const placeCustomerOrderOfOffersOnSale = `create or replace function place_customer_order(basket jsonb) returns jsonb language plpgsql as $$
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
  -- An offer withdrawn since the checkout read it (withdrawOffer holds the session FOR UPDATE, so
  -- this statement, after the lock, sees it): refused as a cap or a short hold is, and the
  -- checkout reads again under lock for its answer.
  if exists (select 1 from offer
              where id = any(array(select (l->>'offer_id')::uuid from jsonb_array_elements(basket->'lines') l))
                and withdrawn_at is not null) then
    raise exception 'an offer of the basket was withdrawn' using errcode = 'check_violation', constraint = 'offer_on_sale';
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
 * A session's offers may change while it sells: addOffers, withdrawOffer, restoreOffer.
 *
 * - `offer.withdrawn_at`: set while an offer is off sale.
 * - `domain_event.sales_session_id`: the session of an OFFERED or WITHDRAWN event, so that its
 *   storefronts' availability stream learns of offers added after they subscribed. A partial
 *   index: other events (every checkout's) leave it alone.
 * - place_customer_order() restated to refuse a withdrawn offer after it has locked the session,
 *   as it refuses a cap: one more index probe per line of each checkout, no round trip.
 *
 * Nullable columns: no rewrite. The index holds no row yet, but building it reads domain_event
 * once, and checkouts (which write events) wait for that pass; an operator with a large event
 * log adds the column and builds the index beforehand, CONCURRENTLY, and the migration finds
 * both (README, Upgrading). During a rolling upgrade a
 * previous-version replica still lists a withdrawn offer as on sale, and its checkouts of one
 * fail with an internal error (this function refuses them): withdraw offers once every replica
 * runs this version.
 */
export class Migration20261125081324 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "domain_event" add column if not exists "sales_session_id" uuid null;`);
    this.addSql(`create index if not exists "domain_event_offer_changes" on "domain_event" ("sales_session_id", "position") where "sales_session_id" is not null;`);
    this.addSql(`alter table "offer" add column "withdrawn_at" timestamptz null;`);
    this.addSql(placeCustomerOrderOfOffersOnSale);
  }

  override async down(): Promise<void> {
    this.addSql(placeCustomerOrderWithWholesalePrices);
    this.addSql(`drop index "domain_event_offer_changes";`);
    this.addSql(`alter table "domain_event" drop column "sales_session_id";`);
    this.addSql(`alter table "offer" drop column "withdrawn_at";`);
  }

}
