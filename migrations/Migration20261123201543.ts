import { Migration } from '@mikro-orm/migrations';

export class Migration20261123201543 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "hub_customer" ("hub_id" uuid not null, "customer_ref" varchar(200) not null, "priority" boolean not null default false, "updated_at" timestamptz not null default now(), constraint "hub_customer_pkey" primary key ("hub_id", "customer_ref"));`);

    this.addSql(`create table "lot_pick" ("id" uuid not null, "created_at" timestamptz not null default now(), "producer_order_id" uuid not null, "product_id" uuid not null, "lot_id" uuid not null, "quantity" numeric(15,3) not null, "replaced_lot_id" uuid null, constraint "lot_pick_pkey" primary key ("id"), constraint lot_pick_quantity_positive check (quantity > 0));`);
    this.addSql(`create index "lot_pick_lot_id_index" on "lot_pick" ("lot_id");`);
    this.addSql(`create index "lot_pick_producer_order_id_product_id_index" on "lot_pick" ("producer_order_id", "product_id");`);

    this.addSql(`create table "location" ("id" uuid not null, "created_at" timestamptz not null default now(), "producer_id" uuid not null, "name" varchar(200) not null, "priority" int not null, constraint "location_pkey" primary key ("id"), constraint location_priority_positive check (priority > 0));`);
    this.addSql(`create index "location_producer_id_priority_index" on "location" ("producer_id", "priority");`);
    this.addSql(`alter table "location" add constraint "location_producer_id_name_unique" unique ("producer_id", "name");`);

    this.addSql(`create table "lot" ("id" uuid not null, "created_at" timestamptz not null default now(), "product_id" uuid not null, "location_id" uuid not null, "code" varchar(100) not null, "kind" text check ("kind" in ('BATCH', 'ITEM')) not null, "quantity" numeric(15,3) not null, "harvested_on" date null, "best_before" date null, "grade" text check ("grade" in ('EXTRA', 'CLASS_I', 'CLASS_II')) not null, "status" text check ("status" in ('QUARANTINE', 'RELEASED')) not null, "released_at" timestamptz null, constraint "lot_pkey" primary key ("id"), constraint lot_quantity_not_negative check (quantity >= 0));`);
    this.addSql(`create index "lot_product_id_status_index" on "lot" ("product_id", "status");`);
    this.addSql(`alter table "lot" add constraint "lot_product_id_code_unique" unique ("product_id", "code");`);

    this.addSql(`create table "shipment_line" ("producer_order_id" uuid not null, "product_id" uuid not null, "ordered" numeric(15,3) not null, "quantity" numeric(15,3) not null, "weight_kg" numeric(15,3) null, constraint "shipment_line_pkey" primary key ("producer_order_id", "product_id"), constraint shipment_line_quantity_not_negative check (quantity >= 0));`);

    this.addSql(`alter table "location" add constraint "location_producer_id_foreign" foreign key ("producer_id") references "producer" ("id") on update cascade;`);

    this.addSql(`alter table "lot" add constraint "lot_product_id_foreign" foreign key ("product_id") references "product" ("id") on update cascade;`);
    this.addSql(`alter table "lot" add constraint "lot_location_id_foreign" foreign key ("location_id") references "location" ("id") on update cascade;`);

    this.addSql(`alter table "stock_movement" drop constraint if exists "stock_movement_kind_check";`);

    this.addSql(`alter table "domain_event" add column "location_id" uuid null, add column "lot_id" uuid null;`);
    this.addSql(`create index "domain_event_hub_id_position_index" on "domain_event" ("hub_id", "position");`);

    this.addSql(`alter table "sales_session" add column "delivers_at" timestamptz null;`);

    this.addSql(`alter table "producer_order" add column "shipped_at" timestamptz null, add column "carrier" varchar(100) null, add column "tracking_reference" varchar(200) null;`);

    this.addSql(`alter table "offer" add column "min_grade" text check ("min_grade" in ('EXTRA', 'CLASS_I', 'CLASS_II')) null, add column "min_shelf_life_days" int null;`);
    this.addSql(`alter table "offer" add constraint offer_min_shelf_life_not_negative check(min_shelf_life_days >= 0);`);

    this.addSql(`alter table "customer_order_line" add column "fulfilled_quantity" numeric(15,3) null;`);

    this.addSql(`alter table "stock_level" drop constraint "stock_level_pkey";`);

    // Every producer gets a first location, and the stock it already has is there.
    this.addSql(`insert into "location" ("id", "created_at", "producer_id", "name", "priority")
                 select gen_random_uuid(), now(), "id", 'Main', 1 from "producer";`);
    this.addSql(`alter table "stock_level" add column "location_id" uuid null;`);
    this.addSql(`update "stock_level" s set "location_id" = l."id" from "product" p, "location" l
                  where p."id" = s."product_id" and l."producer_id" = p."producer_id";`);
    this.addSql(`alter table "stock_level" alter column "location_id" set not null;`);
    this.addSql(`alter table "stock_level" add constraint "stock_level_location_id_foreign" foreign key ("location_id") references "location" ("id") on update cascade on delete cascade;`);
    this.addSql(`alter table "stock_level" add constraint "stock_level_pkey" primary key ("product_id", "location_id");`);

    this.addSql(`alter table "stock_movement" add column "location_id" uuid null, add column "lot_id" uuid null;`);
    this.addSql(`update "stock_movement" m set "location_id" = l."id" from "product" p, "location" l
                  where p."id" = m."product_id" and l."producer_id" = p."producer_id";`);
    this.addSql(`alter table "stock_movement" alter column "location_id" set not null;`);
    this.addSql(`alter table "stock_movement" add constraint "stock_movement_location_id_foreign" foreign key ("location_id") references "location" ("id") on update cascade;`);
    this.addSql(`alter table "stock_movement" add constraint "stock_movement_kind_check" check("kind" in ('ADJUST', 'HOLD', 'RELEASE', 'COMMIT', 'RECEIVE', 'TRANSFER', 'SHIP'));`);
    this.addSql(`create index "stock_movement_producer_order_id_index" on "stock_movement" ("producer_order_id");`);
    this.addSql(`create index "stock_movement_customer_order_id_index" on "stock_movement" ("customer_order_id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "lot" drop constraint "lot_location_id_foreign";`);

    this.addSql(`alter table "stock_level" drop constraint "stock_level_location_id_foreign";`);

    this.addSql(`alter table "stock_movement" drop constraint "stock_movement_location_id_foreign";`);

    this.addSql(`drop table if exists "hub_customer" cascade;`);

    this.addSql(`drop table if exists "lot_pick" cascade;`);

    this.addSql(`drop table if exists "location" cascade;`);

    this.addSql(`drop table if exists "lot" cascade;`);

    this.addSql(`drop table if exists "shipment_line" cascade;`);

    this.addSql(`alter table "stock_movement" drop constraint if exists "stock_movement_kind_check";`);

    this.addSql(`alter table "customer_order_line" drop column "fulfilled_quantity";`);

    this.addSql(`drop index "domain_event_hub_id_position_index";`);
    this.addSql(`alter table "domain_event" drop column "location_id", drop column "lot_id";`);

    this.addSql(`alter table "offer" drop constraint offer_min_shelf_life_not_negative;`);
    this.addSql(`alter table "offer" drop column "min_grade", drop column "min_shelf_life_days";`);

    this.addSql(`alter table "producer_order" drop column "shipped_at", drop column "carrier", drop column "tracking_reference";`);

    this.addSql(`alter table "sales_session" drop column "delivers_at";`);

    this.addSql(`alter table "stock_level" drop constraint "stock_level_pkey";`);
    this.addSql(`alter table "stock_level" drop column "location_id";`);

    this.addSql(`alter table "stock_level" add constraint "stock_level_pkey" primary key ("product_id");`);

    this.addSql(`drop index "stock_movement_producer_order_id_index";`);
    this.addSql(`drop index "stock_movement_customer_order_id_index";`);
    this.addSql(`alter table "stock_movement" drop column "location_id", drop column "lot_id";`);

    this.addSql(`alter table "stock_movement" add constraint "stock_movement_kind_check" check("kind" in ('ADJUST', 'HOLD', 'RELEASE', 'COMMIT'));`);
  }

}
