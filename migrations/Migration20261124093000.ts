import { Migration } from '@mikro-orm/migrations';

/**
 * Every product has a stock level at each of its producer's locations. A product and a location
 * created at the same moment each missed the other's level (fixed in StockService
 * .createMissingLevels); this adds the levels such a race left out, empty, as creation would have.
 */
export class Migration20261124093000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`insert into "stock_level" ("product_id", "location_id")
      select p."id", l."id" from "product" p join "location" l on l."producer_id" = p."producer_id"
      on conflict do nothing;`);
  }

  override async down(): Promise<void> {
    // The levels added are empty and correct: nothing to undo.
  }

}
