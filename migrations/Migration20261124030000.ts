import { Migration } from '@mikro-orm/migrations';

/**
 * Events are numbered in the order their stock changes committed. The relay positions events by
 * id; a checkout's HELD event got its id when the checkout's statement ran, but its hold (and its
 * `available`) only at COMMIT, in the deferred trigger. Two checkouts of one product could then
 * commit in the opposite order to their ids, and subscribers and webhooks saw availability go
 * back up, the last event stating stock that was already sold. The trigger now gives the event a
 * new id while it holds the product's stock rows: every other event of the product gets its id
 * under the same locks, so ids, and the positions the relay gives from them, follow commit order.
 */
export class Migration20261124030000 extends Migration {

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
  update domain_event e
     set available = (select sum(s.on_hand - s.held - s.committed) from stock_level s where s.product_id = new.product_id),
         id = nextval(pg_get_serial_sequence('domain_event', 'id'))
   where e.position is null and e.kind = 'HELD' and e.product_id = new.product_id
     and e.customer_order_id = new.customer_order_id;
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
     set available = (select sum(s.on_hand - s.held - s.committed) from stock_level s where s.product_id = new.product_id)
   where e.position is null and e.kind = 'HELD' and e.product_id = new.product_id
     and e.customer_order_id = new.customer_order_id;
  return null;
end $$;`);
  }

}
