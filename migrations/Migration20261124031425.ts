import { Migration } from '@mikro-orm/migrations';

/**
 * Idempotency keys for adjustStock and transferStock: a producer's retry of a stock write whose
 * answer it never got (a timeout after the commit) must not apply its delta a second time. One row
 * per keyed request, written with the request's ledger rows; the primary key scopes keys to the
 * producer and is the unique index concurrent retries meet on.
 */
export class Migration20261124031425 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "stock_idempotency_key" ("producer_id" uuid not null, "idempotency_key" varchar(200) not null, "request_hash" varchar(64) not null, "kind" text check ("kind" in ('ADJUST', 'TRANSFER')) not null, "product_id" uuid not null, "created_at" timestamptz not null default now(), constraint "stock_idempotency_key_pkey" primary key ("producer_id", "idempotency_key"));`);

    this.addSql(`alter table "stock_idempotency_key" add constraint "stock_idempotency_key_producer_id_foreign" foreign key ("producer_id") references "producer" ("id") on update cascade;`);
    this.addSql(`alter table "stock_idempotency_key" add constraint "stock_idempotency_key_product_id_foreign" foreign key ("product_id") references "product" ("id") on update cascade;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "stock_idempotency_key" cascade;`);
  }

}
