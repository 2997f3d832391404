import { Migration } from '@mikro-orm/migrations';

/**
 * Checkouts placed together: place_customer_order() writes one order, its lines and its planned
 * hold (what the checkout's single statement did); place_customer_orders() places a batch of them
 * in one transaction, each basket in a subtransaction of its own (a savepoint), so that a hot
 * product's many holds share one COMMIT and one turn of its row's lock instead of one each.
 *
 * In a batch the holds are applied as each basket's statement ends (SET CONSTRAINTS ... IMMEDIATE)
 * instead of at COMMIT: a basket the levels cannot take fails inside its own savepoint and is
 * rolled back alone, and the others commit. Locks are taken first, for the whole batch, in the
 * order every checkout takes them (the sessions, shared; their producer orders, shared; then every
 * level of every product in the batch, by product and location), so batches never deadlock with
 * each other or with single checkouts, releases and completions; a basket that would then wait
 * for another transaction's same idempotency key gives up after 50 ms (lock_timeout) instead.
 * place_customer_orders() is meant to run as a statement on its own: its constraint mode and
 * lock timeout last until its transaction ends.
 */
/**
 * place_customer_order() as this migration made it: Migration20261124220000 replaces it, and puts
 * it back when undone.
 */
export function placeCustomerOrderV1(verb: 'create' | 'create or replace'): string {
  return `${verb} function place_customer_order(basket jsonb) returns jsonb language plpgsql as $$
declare
  instant timestamptz := (basket->>'at')::timestamptz;
  answer jsonb;
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
    returning offer_id, producer_order_id),
  hold_ledger as (
    -- In (product, location) order, the order the hold's trigger must fire in.
    insert into stock_movement (product_id, location_id, kind, held_delta, customer_order_id, producer_order_id, created_at, applied_at_commit)
    select m.product_id, m.location_id, 'HOLD', m.held_delta, m.customer_order_id, m.producer_order_id, instant, true
      from jsonb_to_recordset(coalesce(basket->'holds', '[]')) as m(product_id uuid, location_id uuid, held_delta numeric,
                                                                   customer_order_id uuid, producer_order_id uuid)
     where exists (select 1 from placed)
     order by m.product_id, m.location_id)
  select jsonb_build_object(
           -- to_jsonb, not row_to_json: no JSON text parsed again into jsonb (bench/probe-place.ts).
           'order', (select to_jsonb(placed) from placed),
           'lines', (select coalesce(jsonb_agg(jsonb_build_object('offerId', offer_id, 'producerOrderId', producer_order_id)), '[]') from lines))
    into answer;
  -- Every line joins its producer's order; a line without one would be an order short of it.
  if answer->'order' <> 'null' and jsonb_array_length(answer->'lines') <> jsonb_array_length(basket->'lines') then
    raise exception 'a basket line found no producer order' using errcode = 'foreign_key_violation';
  end if;
  return answer;
end $$;`;
}

export class Migration20261124200000 extends Migration {

  override async up(): Promise<void> {
    // One basket (a JSON object built by CheckoutService): nothing is written unless the session
    // is open at the basket's instant and the idempotency key is free; the hold's ledger rows only
    // with the order. Answers {order, lines}: order null when nothing was written.
    this.addSql(placeCustomerOrderV1('create'));

    // A batch of baskets, answered in order: each basket's {order, lines}, or {order: null, error}
    // with what rolled that basket back: its SQLSTATE, constraint and message (23514 on
    // stock_level_available_not_negative when its hold found too little stock).
    this.addSql(`create function place_customer_orders(baskets jsonb) returns jsonb language plpgsql as $$
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
   where id = any(array(select distinct (h->>'producer_order_id')::uuid
                          from jsonb_array_elements(baskets) b, jsonb_array_elements(b->'holds') h))
   order by id for key share;
  perform 1 from stock_level
   where product_id = any(array(select distinct (h->>'product_id')::uuid
                                  from jsonb_array_elements(baskets) b, jsonb_array_elements(b->'holds') h))
   order by product_id, location_id for update;
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
    this.addSql('drop function place_customer_orders(jsonb);');
    this.addSql('drop function place_customer_order(jsonb);');
  }

}
