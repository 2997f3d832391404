import { Migration } from '@mikro-orm/migrations';

/**
 * Numbers customer orders in the order they are placed, for the short-fill rule ("the latest
 * orders lose first") to rank checkouts whose instants tie: a batch's checkouts share theirs, and
 * a random line id was the tie-break. place_customer_orders() inserts a batch's baskets in the
 * order they arrived, so the sequence follows it.
 *
 * The column is added without a default, then given one: a volatile default on ADD COLUMN would
 * rewrite the table, numbering every existing order under an exclusive lock. Existing orders stay
 * unnumbered (null), ranked by their instants as before.
 */
export class Migration20261124220446 extends Migration {

  override async up(): Promise<void> {
    this.addSql('create sequence "customer_order_arrival_seq";');
    this.addSql('alter table "customer_order" add column "arrival_seq" bigint null;');
    this.addSql(`alter table "customer_order" alter column "arrival_seq" set default nextval('customer_order_arrival_seq');`);
    this.addSql('alter sequence "customer_order_arrival_seq" owned by "customer_order"."arrival_seq";');
  }

  override async down(): Promise<void> {
    // Drops the sequence with it (OWNED BY).
    this.addSql('alter table "customer_order" drop column "arrival_seq";');
  }

}
