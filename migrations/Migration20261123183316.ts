import { Migration } from '@mikro-orm/migrations';

export class Migration20261123183316 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "webhook" ("id" uuid not null, "created_at" timestamptz not null default now(), "url" varchar(2000) not null, "kinds" text[] not null, "producer_id" uuid null, "hub_id" uuid null, "secret" varchar(200) not null, "active" boolean not null default true, constraint "webhook_pkey" primary key ("id"));`);

    this.addSql(`create table "webhook_attempt" ("id" bigserial primary key, "delivery_id" bigint not null, "attempted_at" timestamptz not null, "status_code" int null, "error" varchar(500) null);`);
    this.addSql(`create index "webhook_attempt_delivery_id_id_index" on "webhook_attempt" ("delivery_id", "id");`);

    this.addSql(`create table "webhook_delivery" ("id" bigserial primary key, "webhook_id" uuid not null, "event_position" bigint not null, "ordering_key" uuid not null, "body" text not null, "status" varchar(16) not null, "attempt_count" int not null default 0, "next_attempt_at" timestamptz not null, "delivered_at" timestamptz null, "created_at" timestamptz not null);`);
    this.addSql(`create index "webhook_delivery_webhook_id_ordering_key_id_index" on "webhook_delivery" ("webhook_id", "ordering_key", "id");`);
    this.addSql(`create index "webhook_delivery_due" on "webhook_delivery" ("next_attempt_at") where "status" = 'PENDING';`);

    this.addSql(`alter table "domain_event" add column "hub_id" uuid null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "webhook" cascade;`);

    this.addSql(`drop table if exists "webhook_attempt" cascade;`);

    this.addSql(`drop table if exists "webhook_delivery" cascade;`);

    this.addSql(`alter table "domain_event" drop column "hub_id";`);
  }

}
