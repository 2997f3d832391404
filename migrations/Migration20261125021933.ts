import { Migration } from '@mikro-orm/migrations';

/**
 * A shipment line is one product of one producer order: the sum of the holds on every location of
 * the product, each level up to numeric(15,3). numeric(20,3), like the event log
 * (Migration20261125001331), so an order that could be held can also be shipped. Widening a
 * numeric with the same scale changes no stored value: PostgreSQL skips the table rewrite.
 */
export class Migration20261125021933 extends Migration {

  override async up(): Promise<void> {
    this.addSql('alter table "shipment_line" alter column "ordered" type numeric(20,3), alter column "quantity" type numeric(20,3), alter column "weight_kg" type numeric(20,3);');
  }

  override async down(): Promise<void> {
    this.addSql('alter table "shipment_line" alter column "ordered" type numeric(15,3), alter column "quantity" type numeric(15,3), alter column "weight_kg" type numeric(15,3);');
  }

}
