import { Migration } from '@mikro-orm/migrations';

export class Migration20261123181157 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "hub" ("id" uuid not null, "created_at" timestamptz not null default now(), "name" varchar(200) not null, constraint "hub_pkey" primary key ("id"));`);

    this.addSql(`create table "producer" ("id" uuid not null, "created_at" timestamptz not null default now(), "name" varchar(200) not null, constraint "producer_pkey" primary key ("id"));`);

    this.addSql(`create table "product" ("id" uuid not null, "created_at" timestamptz not null default now(), "producer_id" uuid not null, "name" varchar(200) not null, "sku" varchar(100) not null, "unit" varchar(20) not null, constraint "product_pkey" primary key ("id"));`);
    this.addSql(`create index "product_producer_id_name_index" on "product" ("producer_id", "name");`);
    this.addSql(`alter table "product" add constraint "product_producer_id_sku_unique" unique ("producer_id", "sku");`);

    this.addSql(`create table "sales_session" ("id" uuid not null, "created_at" timestamptz not null default now(), "hub_id" uuid not null, "opens_at" timestamptz not null, "closes_at" timestamptz not null, "time_zone" varchar(64) not null, "closed_at" timestamptz null, "completed_at" timestamptz null, constraint "sales_session_pkey" primary key ("id"), constraint sales_session_closes_after_opening check (closes_at > opens_at));`);
    this.addSql(`create index "sales_session_hub_id_index" on "sales_session" ("hub_id");`);
    this.addSql(`create index "sales_session_due_for_completion" on "sales_session" ("closes_at") where "completed_at" is null;`);

    this.addSql(`create table "producer_order" ("id" uuid not null, "created_at" timestamptz not null default now(), "sales_session_id" uuid not null, "producer_id" uuid not null, "hub_id" uuid not null, "order_state" text check ("order_state" in ('DRAFT', 'HELD', 'COMPLETE', 'CANCELLED')) not null default 'HELD', "fulfilment_state" text check ("fulfilment_state" in ('HELD', 'UNFULFILLED', 'FULFILLED', 'CANCELLED')) not null default 'HELD', "completed_at" timestamptz null, constraint "producer_order_pkey" primary key ("id"));`);
    this.addSql(`create index "producer_order_producer_id_index" on "producer_order" ("producer_id");`);
    this.addSql(`alter table "producer_order" add constraint "producer_order_sales_session_id_producer_id_unique" unique ("sales_session_id", "producer_id");`);

    this.addSql(`create table "offer" ("id" uuid not null, "created_at" timestamptz not null default now(), "sales_session_id" uuid not null, "product_id" uuid not null, "price_amount" int not null, "price_currency" varchar(3) not null, constraint "offer_pkey" primary key ("id"), constraint offer_price_not_negative check (price_amount >= 0));`);
    this.addSql(`create index "offer_product_id_index" on "offer" ("product_id");`);
    this.addSql(`alter table "offer" add constraint "offer_sales_session_id_product_id_unique" unique ("sales_session_id", "product_id");`);

    this.addSql(`create table "customer_order" ("id" uuid not null, "created_at" timestamptz not null default now(), "sales_session_id" uuid not null, "hub_id" uuid not null, "customer_ref" varchar(200) not null, "status" text check ("status" in ('PENDING_PAYMENT', 'CONFIRMED', 'PAYMENT_FAILED', 'EXPIRED', 'CANCELLED')) not null default 'PENDING_PAYMENT', "hold_expires_at" timestamptz null, "idempotency_key" varchar(200) not null, "request_hash" varchar(64) not null, "updated_at" timestamptz not null default now(), constraint "customer_order_pkey" primary key ("id"));`);
    this.addSql(`create index "customer_order_sales_session_id_status_index" on "customer_order" ("sales_session_id", "status");`);
    this.addSql(`create index "customer_order_hold_expiry" on "customer_order" ("hold_expires_at") where "status" = 'PENDING_PAYMENT';`);
    this.addSql(`alter table "customer_order" add constraint "customer_order_hub_idempotency_key" unique ("hub_id", "idempotency_key");`);

    this.addSql(`create table "customer_order_line" ("id" uuid not null, "created_at" timestamptz not null default now(), "customer_order_id" uuid not null, "offer_id" uuid not null, "product_id" uuid not null, "producer_order_id" uuid not null, "quantity" numeric(15,3) not null, "unit_price_amount" int not null, "currency" varchar(3) not null, constraint "customer_order_line_pkey" primary key ("id"), constraint customer_order_line_quantity_positive check (quantity > 0));`);
    this.addSql(`create index "customer_order_line_producer_order_id_product_id_index" on "customer_order_line" ("producer_order_id", "product_id");`);
    this.addSql(`create index "customer_order_line_customer_order_id_index" on "customer_order_line" ("customer_order_id");`);

    this.addSql(`create table "stock_level" ("product_id" uuid not null, "on_hand" numeric(15,3) not null default 0, "held" numeric(15,3) not null default 0, "committed" numeric(15,3) not null default 0, constraint "stock_level_pkey" primary key ("product_id"), constraint stock_level_committed_not_negative check (committed >= 0), constraint stock_level_held_not_negative check (held >= 0), constraint stock_level_available_not_negative check (on_hand - held - committed >= 0));`);

    this.addSql(`create table "stock_movement" ("id" bigserial primary key, "product_id" uuid not null, "kind" text check ("kind" in ('ADJUST', 'HOLD', 'RELEASE', 'COMMIT')) not null, "on_hand_delta" numeric(15,3) not null default 0, "held_delta" numeric(15,3) not null default 0, "committed_delta" numeric(15,3) not null default 0, "customer_order_id" uuid null, "producer_order_id" uuid null, "reason" varchar(500) null, "created_at" timestamptz not null default now());`);
    this.addSql(`create index "stock_movement_product_id_id_index" on "stock_movement" ("product_id", "id");`);

    this.addSql(`alter table "product" add constraint "product_producer_id_foreign" foreign key ("producer_id") references "producer" ("id") on update cascade;`);

    this.addSql(`alter table "sales_session" add constraint "sales_session_hub_id_foreign" foreign key ("hub_id") references "hub" ("id") on update cascade;`);

    this.addSql(`alter table "producer_order" add constraint "producer_order_sales_session_id_foreign" foreign key ("sales_session_id") references "sales_session" ("id") on update cascade;`);
    this.addSql(`alter table "producer_order" add constraint "producer_order_producer_id_foreign" foreign key ("producer_id") references "producer" ("id") on update cascade;`);
    this.addSql(`alter table "producer_order" add constraint "producer_order_hub_id_foreign" foreign key ("hub_id") references "hub" ("id") on update cascade;`);

    this.addSql(`alter table "offer" add constraint "offer_sales_session_id_foreign" foreign key ("sales_session_id") references "sales_session" ("id") on update cascade;`);
    this.addSql(`alter table "offer" add constraint "offer_product_id_foreign" foreign key ("product_id") references "product" ("id") on update cascade;`);

    this.addSql(`alter table "customer_order" add constraint "customer_order_sales_session_id_foreign" foreign key ("sales_session_id") references "sales_session" ("id") on update cascade;`);
    this.addSql(`alter table "customer_order" add constraint "customer_order_hub_id_foreign" foreign key ("hub_id") references "hub" ("id") on update cascade;`);

    this.addSql(`alter table "customer_order_line" add constraint "customer_order_line_customer_order_id_foreign" foreign key ("customer_order_id") references "customer_order" ("id") on update cascade;`);
    this.addSql(`alter table "customer_order_line" add constraint "customer_order_line_offer_id_foreign" foreign key ("offer_id") references "offer" ("id") on update cascade;`);
    this.addSql(`alter table "customer_order_line" add constraint "customer_order_line_product_id_foreign" foreign key ("product_id") references "product" ("id") on update cascade;`);
    this.addSql(`alter table "customer_order_line" add constraint "customer_order_line_producer_order_id_foreign" foreign key ("producer_order_id") references "producer_order" ("id") on update cascade;`);

    this.addSql(`alter table "stock_level" add constraint "stock_level_product_id_foreign" foreign key ("product_id") references "product" ("id") on update cascade on delete cascade;`);

    this.addSql(`alter table "stock_movement" add constraint "stock_movement_product_id_foreign" foreign key ("product_id") references "product" ("id") on update cascade;`);
  }

}
