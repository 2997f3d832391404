import { Migration } from '@mikro-orm/migrations';

/**
 * Each location and product keeps a digest of the request that made it, so that request sent
 * again answers with it after updateLocation or updateProduct changed it (see createOrReplay()),
 * as a lot keeps its receipt's (Migration20261124113037). Nullable columns: no rewrite.
 */
export class Migration20261125123724 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "location" add column "creation_hash" varchar(64) null;`);

    this.addSql(`alter table "product" add column "creation_hash" varchar(64) null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "location" drop column "creation_hash";`);

    this.addSql(`alter table "product" drop column "creation_hash";`);
  }

}
