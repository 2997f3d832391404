import { Migration } from '@mikro-orm/migrations';

/**
 * Producer.products pages oldest first, on a key that never changes: by name, a product renamed
 * between two pages moved, and paging went on from its new name, skipping or repeating the
 * products it passed (found by review). The index follows the new order. Small: one row per product.
 */
export class Migration20261125190000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`drop index "product_producer_id_name_index";`);

    this.addSql(`create index "product_producer_id_created_at_id_index" on "product" ("producer_id", "created_at", "id");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "product_producer_id_created_at_id_index";`);

    this.addSql(`create index "product_producer_id_name_index" on "product" ("producer_id", "name");`);
  }

}
