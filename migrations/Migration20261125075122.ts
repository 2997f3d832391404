import { Migration } from '@mikro-orm/migrations';

/**
 * When a customer order's payment was confirmed, kept if it is cancelled afterwards, so a hub knows
 * which cancelled orders to refund (after cancelSalesSession above all). A nullable column: no
 * rewrite. Orders paid before it, or at a previous-version replica during the rollout, have none.
 */
export class Migration20261125075122 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "customer_order" add column "paid_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "customer_order" drop column "paid_at";`);
  }

}
