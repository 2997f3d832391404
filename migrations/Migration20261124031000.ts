import { Migration } from '@mikro-orm/migrations';

/**
 * Retention deletes events and delivered webhook history older than its cutoff. Without these
 * indexes each run read the whole event log and every delivery ever made.
 *
 * Also drops the pending deliveries of webhooks already removed: queued as the webhook was being
 * removed, they were retried forever, and kept their events from ever being pruned.
 *
 * `if not exists`: on a large, busy database an operator builds both indexes beforehand with
 * CREATE INDEX CONCURRENTLY (README, Upgrading), since building them here blocks event writes.
 */
export class Migration20261124031000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index if not exists "domain_event_created_at_index" on "domain_event" ("created_at");`);

    this.addSql(`create index if not exists "webhook_delivery_delivered_created_at" on "webhook_delivery" ("created_at") where "status" = 'DELIVERED';`);

    this.addSql(`delete from "webhook_attempt" a using "webhook_delivery" d, "webhook" w
  where a."delivery_id" = d."id" and d."webhook_id" = w."id" and not w."active" and d."status" = 'PENDING';`);
    this.addSql(`delete from "webhook_delivery" d using "webhook" w
  where d."webhook_id" = w."id" and not w."active" and d."status" = 'PENDING';`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "domain_event_created_at_index";`);

    this.addSql(`drop index "webhook_delivery_delivered_created_at";`);
  }

}
