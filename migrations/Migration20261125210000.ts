import { Migration } from '@mikro-orm/migrations';

/**
 * sales_session.close_announced_at: when a session's storefronts were told it stopped selling
 * (SESSION_CLOSED events). The scheduler now tells them when `closesAt` passes too, not only on an
 * early close or a cancel: a storefront that read `closesAt` before the hub moved it earlier sold
 * on (found by review). Sessions that have already stopped selling count as told, so the upgrade
 * sends nothing for them: one update of the sessions table, which is small.
 */
export class Migration20261125210000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "sales_session" add column "close_announced_at" timestamptz null;`);
    this.addSql(`update "sales_session" set "close_announced_at" = coalesce("closed_at", "closes_at") where "closed_at" is not null or "closes_at" <= now();`);
    this.addSql(`create index "sales_session_close_unannounced" on "sales_session" ("closes_at") where "close_announced_at" is null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "sales_session_close_unannounced";`);
    this.addSql(`alter table "sales_session" drop column "close_announced_at";`);
  }

}
