import { Migration } from '@mikro-orm/migrations';

/**
 * producerOrders pages oldest first after a cursor: for a producer and for a hub, these read a
 * page in index order instead of sorting all their orders for each page. The producer's replaces
 * its index on producer_id alone, which it leads with. `if not exists`: an operator may build them
 * beforehand without blocking (README, Upgrading); one row per producer and session, they build
 * quickly otherwise.
 */
export class Migration20261125005330 extends Migration {

  override async up(): Promise<void> {
    this.addSql('create index if not exists "producer_order_hub_created" on "producer_order" ("hub_id", "created_at", "id");');
    this.addSql('create index if not exists "producer_order_producer_created" on "producer_order" ("producer_id", "created_at", "id");');
    this.addSql('drop index if exists "producer_order_producer_id_index";');
  }

  override async down(): Promise<void> {
    this.addSql('create index "producer_order_producer_id_index" on "producer_order" ("producer_id");');
    this.addSql('drop index "producer_order_hub_created";');
    this.addSql('drop index "producer_order_producer_created";');
  }

}
