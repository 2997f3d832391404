import { Migration } from '@mikro-orm/migrations';

/**
 * A product's details from the domain model: description, GTIN, the smallest sellable step (which
 * checkouts must be whole multiples of), net weight, packed dimensions and the wholesale price.
 * Every column is nullable or has a constant default, so no row is rewritten; existing products
 * sell in steps of 0.001, as before.
 */
export class Migration20261125023338 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "product" add column "description" text null, add column "gtin" varchar(14) null, add column "sellable_step" numeric(15,3) not null default '0.001', add column "net_weight_kg" numeric(15,3) null, add column "length_cm" numeric(15,3) null, add column "width_cm" numeric(15,3) null, add column "height_cm" numeric(15,3) null, add column "wholesale_price_amount" int null, add column "wholesale_price_currency" varchar(3) null;`);
    this.addSql(`alter table "product" add constraint product_wholesale_price_whole check((wholesale_price_amount IS NULL) = (wholesale_price_currency IS NULL) AND wholesale_price_amount >= 0);`);
    this.addSql(`alter table "product" add constraint product_dimensions_whole check((length_cm IS NULL) = (width_cm IS NULL) AND (width_cm IS NULL) = (height_cm IS NULL) AND least(length_cm, width_cm, height_cm) > 0);`);
    this.addSql(`alter table "product" add constraint product_net_weight_positive check(net_weight_kg > 0);`);
    this.addSql(`alter table "product" add constraint product_sellable_step_positive check(sellable_step > 0);`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "product" drop constraint product_wholesale_price_whole;`);
    this.addSql(`alter table "product" drop constraint product_dimensions_whole;`);
    this.addSql(`alter table "product" drop constraint product_net_weight_positive;`);
    this.addSql(`alter table "product" drop constraint product_sellable_step_positive;`);
    this.addSql(`alter table "product" drop column "description", drop column "gtin", drop column "sellable_step", drop column "net_weight_kg", drop column "length_cm", drop column "width_cm", drop column "height_cm", drop column "wholesale_price_amount", drop column "wholesale_price_currency";`);
  }

}
