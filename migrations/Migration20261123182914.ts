import { Migration } from '@mikro-orm/migrations';

export class Migration20261123182914 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "domain_event" ("id" bigserial primary key, "position" bigint null, "kind" varchar(32) not null, "producer_id" uuid not null, "product_id" uuid not null, "producer_order_id" uuid null, "customer_order_id" uuid null, "quantity" numeric(15,3) not null, "available" numeric(15,3) not null, "created_at" timestamptz not null);`);
    this.addSql(`alter table "domain_event" add constraint "domain_event_position_unique" unique ("position");`);
    this.addSql(`create index "domain_event_product_id_position_index" on "domain_event" ("product_id", "position");`);
    this.addSql(`create index "domain_event_producer_id_position_index" on "domain_event" ("producer_id", "position");`);
    this.addSql(`create index "domain_event_unpositioned" on "domain_event" ("id") where "position" is null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "domain_event" cascade;`);
  }

}
