import { Migration } from '@mikro-orm/migrations';

/**
 * When a hub cancelled a session with its orders (cancelSalesSession). A nullable column: no
 * rewrite. A cancelled session also has closed_at and completed_at set, so a replica of the
 * previous version, during a rolling upgrade, reads it as completed: it sells nothing and is not
 * completed again.
 */
export class Migration20261125061642 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "sales_session" add column "cancelled_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "sales_session" drop column "cancelled_at";`);
  }

}
