import { Migration } from '@mikro-orm/migrations';

/**
 * customer_order.hold_started_at: when the hold of a chain of changed baskets began, so that
 * changing a basket never holds stock past HOLD_MAX_DURATION from the first checkout. A nullable
 * column: no rewrite; null reads as the order's own creation.
 */
export class Migration20261125092059 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "customer_order" add column "hold_started_at" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "customer_order" drop column "hold_started_at";`);
  }

}
