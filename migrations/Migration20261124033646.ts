import { Migration } from '@mikro-orm/migrations';

/**
 * One table of idempotency keys for every keyed mutation: the stock writes' keys move into it, and
 * createSalesSession and registerWebhook take keys too. The primary key (scope, key) scopes keys
 * to an enterprise and is the unique index concurrent retries meet on. The stock writes' keys move
 * with their hashes unchanged, so a retry sent across the upgrade still replays.
 */
export class Migration20261124033646 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "idempotency_key" ("scope" varchar(64) not null, "idempotency_key" varchar(200) not null, "kind" text check ("kind" in ('ADJUST', 'TRANSFER', 'CREATE_SALES_SESSION', 'REGISTER_WEBHOOK')) not null, "request_hash" varchar(64) not null, "result_id" uuid not null, "created_at" timestamptz not null default now(), constraint "idempotency_key_pkey" primary key ("scope", "idempotency_key"));`);

    this.addSql(`insert into "idempotency_key" ("scope", "idempotency_key", "kind", "request_hash", "result_id", "created_at")
      select 'producer:' || "producer_id", "idempotency_key", "kind", "request_hash", "product_id", "created_at" from "stock_idempotency_key";`);

    this.addSql(`drop table if exists "stock_idempotency_key" cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`create table "stock_idempotency_key" ("producer_id" uuid not null, "idempotency_key" varchar(200) not null, "request_hash" varchar(64) not null, "kind" text check ("kind" in ('ADJUST', 'TRANSFER')) not null, "product_id" uuid not null, "created_at" timestamptz(6) not null default now(), constraint "stock_idempotency_key_pkey" primary key ("producer_id", "idempotency_key"));`);

    this.addSql(`alter table "stock_idempotency_key" add constraint "stock_idempotency_key_producer_id_foreign" foreign key ("producer_id") references "producer" ("id") on update cascade on delete no action;`);
    this.addSql(`alter table "stock_idempotency_key" add constraint "stock_idempotency_key_product_id_foreign" foreign key ("product_id") references "product" ("id") on update cascade on delete no action;`);

    // The sessions' and webhooks' keys have nowhere to go: their mutations take none before this.
    this.addSql(`insert into "stock_idempotency_key" ("producer_id", "idempotency_key", "request_hash", "kind", "product_id", "created_at")
      select substr("scope", length('producer:') + 1)::uuid, "idempotency_key", "request_hash", "kind", "result_id", "created_at"
        from "idempotency_key" where "kind" in ('ADJUST', 'TRANSFER');`);

    this.addSql(`drop table if exists "idempotency_key" cascade;`);
  }

}
