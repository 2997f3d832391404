import { Migration } from '@mikro-orm/migrations';

/**
 * An event's quantity and the availability after it are sums over a product's locations, each
 * level up to 999,999,999,999.999: numeric(15,3) overflowed once they added up past it, and every
 * change of the product, checkouts included, failed. numeric(20,3) holds the sum of 100,000 full
 * levels. Widening a numeric with the same scale changes no stored value, so PostgreSQL skips the
 * table rewrite (test/platform/migrations.test.ts checks): the event log is not copied.
 */
export class Migration20261125001331 extends Migration {

  override async up(): Promise<void> {
    this.addSql('alter table "domain_event" alter column "quantity" type numeric(20,3), alter column "available" type numeric(20,3);');
  }

  override async down(): Promise<void> {
    this.addSql('alter table "domain_event" alter column "quantity" type numeric(15,3), alter column "available" type numeric(15,3);');
  }

}
