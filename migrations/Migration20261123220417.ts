import { Migration } from '@mikro-orm/migrations';

/**
 * A checkout's hold is applied to the stock levels at COMMIT, by a deferred constraint trigger,
 * instead of by a statement in the middle of the transaction. A hot product's row is then locked
 * only while PostgreSQL commits, never while it waits for the server to send COMMIT (under load,
 * that wait was most of a hold's time). The level's CHECK still refuses an oversell: the COMMIT
 * fails and nothing of the checkout is kept.
 */
export class Migration20261123220417 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "stock_movement" add column "applied_at_commit" boolean not null default false;`);

    // Locks every level of the product in location order (as every other stock write does, so
    // they never deadlock), applies the row's deltas, and gives the product's held event the
    // availability after it. Rows are queued in (product, location) order by their insert.
    this.addSql(`create function stock_movement_apply_at_commit() returns trigger language plpgsql as $$
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
    this.addSql(`create constraint trigger "stock_movement_apply_at_commit" after insert on "stock_movement"
  deferrable initially deferred for each row when (new.applied_at_commit)
  execute function stock_movement_apply_at_commit();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger "stock_movement_apply_at_commit" on "stock_movement";`);
    this.addSql(`drop function stock_movement_apply_at_commit();`);
    this.addSql(`alter table "stock_movement" drop column "applied_at_commit";`);
  }

}
