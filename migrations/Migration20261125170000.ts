import { Migration } from '@mikro-orm/migrations';

/**
 * Each event says whether it moved its product's availability (DomainEvent.availableChanged), so
 * the public storefront stream (availabilityChanged) sends only those: before, anyone with a
 * session's id learnt when another hub's session completed and shipped, when its customers were
 * short-filled and when the producer moved stock between locations (found by review). A constant
 * default: no rewrite of the log; the events already kept count as changes, as they were sent.
 */
export class Migration20261125170000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "domain_event" add column "available_changed" boolean not null default true;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "domain_event" drop column "available_changed";`);
  }

}
