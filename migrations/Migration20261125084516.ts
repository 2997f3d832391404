import { Migration } from '@mikro-orm/migrations';

/**
 * A customer may change a basket: a checkout that replaces a pending order cancels it in its own
 * transaction and points it at the new order (customer_order.replaced_by_id). A nullable column:
 * no rewrite; its foreign key reads customer_order once (every row has none yet), holding order
 * writes for that pass.
 */
export class Migration20261125084516 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "customer_order" add column "replaced_by_id" uuid null;`);
    this.addSql(`alter table "customer_order" add constraint "customer_order_replaced_by_id_foreign" foreign key ("replaced_by_id") references "customer_order" ("id") on update cascade on delete set null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "customer_order" drop constraint "customer_order_replaced_by_id_foreign";`);

    this.addSql(`alter table "customer_order" drop column "replaced_by_id";`);
  }

}
