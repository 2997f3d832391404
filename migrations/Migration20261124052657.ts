import { Migration } from '@mikro-orm/migrations';

/** Idempotency keys are now forgotten after IDEMPOTENCY_KEY_RETENTION: the age they are deleted by. */
export class Migration20261124052657 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index "idempotency_key_created_at_index" on "idempotency_key" ("created_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "idempotency_key_created_at_index";`);
  }

}
