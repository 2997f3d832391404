import { Migration } from '@mikro-orm/migrations';

/**
 * The newest event position when a session was created: where availabilityChanged's replay
 * starts at the earliest. Null for the sessions already there (their replay is as before). A
 * nullable column: no rewrite.
 */
export class Migration20261125015248 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "sales_session" add column "first_event_position" bigint null;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "sales_session" drop column "first_event_position";`);
  }

}
