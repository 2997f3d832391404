import { Migration } from '@mikro-orm/migrations';

/**
 * A webhook claim walks each active webhook's pending deliveries in id order and stops at that
 * webhook's share (WebhookDispatcher.claim()): this partial index is that walk, so a claim costs
 * the same however long one receiver's backlog of retries.
 */
export class Migration20261125140219 extends Migration {

  override async up(): Promise<void> {
    // If not built already, without blocking, as the README's Upgrading section shows.
    this.addSql(`create index if not exists "webhook_delivery_pending_by_webhook" on "webhook_delivery" ("webhook_id", "id") where "status" = 'PENDING';`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "webhook_delivery_pending_by_webhook";`);
  }

}
