import { Migration } from '@mikro-orm/migrations';

/**
 * Stock levels are locked in (product, lock_seq) order instead of (product, location id).
 *
 * Every writer locks all of a product's levels, often more than once in a transaction (a shipment
 * reads its plan between two). A level created meanwhile (a new location: createMissingLevels()
 * runs under the producer's lock, not the levels') is seen by the later statements. Location ids
 * are random, so the new level could sort before the ones the writer already held: it then
 * locked it after them, while a writer that began after the new level committed locked it first
 * and waited for the others. The two deadlocked, and one answered INTERNAL_SERVER_ERROR. lock_seq
 * grows as levels are created (in commit order for a product: created under its producer's
 * lock), so a level that appears mid-transaction always sorts after those already held, and
 * whoever holds the older ones is waited for before anyone can hold the new one.
 *
 * Numbering the existing levels writes each once (a few rows per product and location).
 *
 * Also:
 * - place_customer_orders() takes its producer orders' shared locks again: its holds no longer
 *   name them (Migration20261124220000), so they are found from the baskets' sessions and lines'
 *   producers, as the lines will join them.
 * - customer_order.arrival_seq gets its number from a function instead of nextval() directly,
 *   which the migration generator read as a serial column whose definition it kept proposing to
 *   change.
 */
/** place_customer_orders() as this migration installs it (Migration20261125042822 restores it on the way down). */
export const placeCustomerOrdersV2 = `create or replace function place_customer_orders(baskets jsonb) returns jsonb language plpgsql as $$
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
end $$;`;

export class Migration20261124230000 extends Migration {

  override async up(): Promise<void> {
    // The existing levels are numbered in (product, location) order, the order they were locked
    // in until now: a replica still on the previous version (a rolling upgrade) locks them in the
    // same order as the new ones. New levels take the next numbers, from a function rather than
    // nextval() itself, for the reason given above for arrival_seq.
    this.addSql('create sequence "stock_level_lock_seq";');
    this.addSql(`create function stock_level_next_lock_seq() returns bigint language sql volatile
  as $$ select nextval('stock_level_lock_seq') $$;`);
    this.addSql('alter table "stock_level" add column "lock_seq" bigint;');
    this.addSql(`update stock_level s set lock_seq = numbered.n
  from (select product_id, location_id, row_number() over (order by product_id, location_id) as n from stock_level) numbered
 where numbered.product_id = s.product_id and numbered.location_id = s.location_id;`);
    this.addSql(`select setval('stock_level_lock_seq', coalesce((select max(lock_seq) from stock_level), 0) + 1, false);`);
    this.addSql('alter table "stock_level" alter column "lock_seq" set default stock_level_next_lock_seq();');
    this.addSql('alter table "stock_level" alter column "lock_seq" set not null;');

    this.addSql(`create function customer_order_next_arrival() returns bigint language sql volatile
  as $$ select nextval('customer_order_arrival_seq') $$;`);
    this.addSql('alter table "customer_order" alter column "arrival_seq" set default customer_order_next_arrival();');

    // As in Migration20261124170000, locking by lock_seq.
    this.addSql(`create or replace function stock_movement_apply_at_commit() returns trigger language plpgsql as $$
begin
  perform 1 from stock_level where product_id = new.product_id order by lock_seq for update;
  update stock_level
     set on_hand = on_hand + new.on_hand_delta, held = held + new.held_delta, committed = committed + new.committed_delta
   where product_id = new.product_id and location_id = new.location_id;
  if not found then
    raise exception 'no stock level for product % at location %', new.product_id, new.location_id
      using errcode = 'foreign_key_violation';
  end if;
  -- A replica still on the previous version (a rolling upgrade) wrote the event with its
  -- checkout: it is completed as that version's trigger did.
  update domain_event e
     set available = (select sum(s.on_hand - s.held - s.committed) from stock_level s where s.product_id = new.product_id),
         id = nextval(pg_get_serial_sequence('domain_event', 'id'))
   where e.product_id = new.product_id and e.position is null and e.kind = 'HELD'
     and e.customer_order_id = new.customer_order_id;
  if found then
    return null;
  end if;
  -- Rows fire in (product, location) order: the product's last one writes the hold's event.
  if not exists (select 1 from stock_movement m
                  where m.customer_order_id = new.customer_order_id and m.product_id = new.product_id
                    and m.applied_at_commit and m.location_id > new.location_id) then
    insert into domain_event (kind, producer_id, product_id, producer_order_id, hub_id, customer_order_id, quantity, available, created_at)
    select 'HELD', p.producer_id, new.product_id, new.producer_order_id, po.hub_id, new.customer_order_id,
           (select sum(m.held_delta) from stock_movement m
             where m.customer_order_id = new.customer_order_id and m.product_id = new.product_id and m.applied_at_commit),
           (select sum(s.on_hand - s.held - s.committed) from stock_level s where s.product_id = new.product_id),
           new.created_at
      from product p left join producer_order po on po.id = new.producer_order_id
     where p.id = new.product_id;
  end if;
  return null;
end $$;`);

    // As in Migration20261124200000, locking the producer orders the lines will join, and the
    // levels by lock_seq.
    this.addSql(placeCustomerOrdersV2);
  }

  override async down(): Promise<void> {
    // Back to locking by location id (the batch keeps its producer-order locks), then lock_seq goes.
    this.addSql(`do $$
declare definition text;
begin
  definition := pg_get_functiondef('stock_movement_apply_at_commit'::regproc);
  execute replace(definition, 'order by lock_seq for update', 'order by location_id for update');
  definition := pg_get_functiondef('place_customer_orders'::regproc);
  execute replace(definition, 'order by product_id, lock_seq for update', 'order by product_id, location_id for update');
end $$;`);
    this.addSql('alter table "stock_level" drop column "lock_seq";');
    this.addSql('drop function stock_level_next_lock_seq();');
    this.addSql('drop sequence "stock_level_lock_seq";');
    this.addSql(`alter table "customer_order" alter column "arrival_seq" set default nextval('customer_order_arrival_seq');`);
    this.addSql('drop function customer_order_next_arrival();');
  }

}
