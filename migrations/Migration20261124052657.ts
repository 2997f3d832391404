import { Migration } from '@mikro-orm/migrations';

/**
 * Idempotency keys are now forgotten after IDEMPOTENCY_KEY_RETENTION: the age they are deleted by.
 * `if not exists`: on a large table an operator builds it beforehand, concurrently (README, Upgrading).
 */
export class Migration20261124052657 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create index if not exists "idempotency_key_created_at_index" on "idempotency_key" ("created_at");`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index "idempotency_key_created_at_index";`);
  }

}
