import { Migration } from '@mikro-orm/migrations';

/**
 * An offer's place in its session as the trader listed it, which storefronts show the offers in:
 * all of one session's offers were created at one instant, so they came back in the order of
 * their random ids. Existing offers get 0, and keep that order. A constant default: no rewrite.
 */
export class Migration20261125010250 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "offer" add column "position" int not null default 0;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "offer" drop column "position";`);
  }

}
