import { Migration } from '@mikro-orm/migrations';

/**
 * Each lot keeps a digest of the receiveLot request that made it, so that request sent again answers
 * with the lot even after it was shipped from, released or moved (see LotService.receiveLot).
 */
export class Migration20261124113037 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "lot" add column "receipt_hash" varchar(64) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "lot" drop column "receipt_hash";`);
  }

}
