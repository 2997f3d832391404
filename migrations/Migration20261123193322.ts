import { Migration } from '@mikro-orm/migrations';

export class Migration20261123193322 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "webhook_delivery" add column "claimed_until" timestamptz null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "webhook_delivery" drop column "claimed_until";`);
  }

}
