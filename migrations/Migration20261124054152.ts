import { Migration } from '@mikro-orm/migrations';

/** A shipment remembers how it was asked for, so that its retry is told from a corrected shipment. */
export class Migration20261124054152 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "producer_order" add column "shipment_request_hash" varchar(64) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "producer_order" drop column "shipment_request_hash";`);
  }

}
