import { Migration } from '@mikro-orm/migrations';

/**
 * A hold applied at COMMIT writes its HELD event there, once, instead of the checkout inserting it
 * and the commit trigger then updating it (its availability, and a new id so that ids follow
 * commit order, see Migration20261124030000). That update wrote a second version of every event
 * with new entries in each of domain_event's indexes (the id changed): a tenth of PostgreSQL's
 * time per checkout (bench/RESULTS.md). The event is inserted when the product's last location in
 * the hold is applied, under the product's locks: its id is taken in commit order and its
 * availability is the one after the whole hold, as before. During a rolling upgrade, a replica
 * still on the previous version inserts the event with its checkout; the trigger then updates it
 * as before, found by the (product_id, position) index among the product's unpositioned events.
 */
export class Migration20261124170000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create or replace function stock_movement_apply_at_commit() returns trigger language plpgsql as $$
begin
  perform 1 from stock_level where product_id = new.product_id order by location_id for update;
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
  }

  override async down(): Promise<void> {
    this.addSql(`create or replace function stock_movement_apply_at_commit() returns trigger language plpgsql as $$
begin
  perform 1 from stock_level where product_id = new.product_id order by location_id for update;
  update stock_level
     set on_hand = on_hand + new.on_hand_delta, held = held + new.held_delta, committed = committed + new.committed_delta
   where product_id = new.product_id and location_id = new.location_id;
  if not found then
    raise exception 'no stock level for product % at location %', new.product_id, new.location_id
      using errcode = 'foreign_key_violation';
  end if;
  update domain_event e
     set available = (select sum(s.on_hand - s.held - s.committed) from stock_level s where s.product_id = new.product_id),
         id = nextval(pg_get_serial_sequence('domain_event', 'id'))
   where e.position is null and e.kind = 'HELD' and e.product_id = new.product_id
     and e.customer_order_id = new.customer_order_id;
  return null;
end $$;`);
  }

}
