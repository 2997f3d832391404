import { Migration } from '@mikro-orm/migrations';

/** createProducer and createHub take an idempotency key too: two more kinds of keyed write. */
export class Migration20261124050833 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "idempotency_key" drop constraint if exists "idempotency_key_kind_check";`);

    this.addSql(`alter table "idempotency_key" add constraint "idempotency_key_kind_check" check("kind" in ('ADJUST', 'TRANSFER', 'CREATE_SALES_SESSION', 'REGISTER_WEBHOOK', 'CREATE_PRODUCER', 'CREATE_HUB'));`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "idempotency_key" drop constraint if exists "idempotency_key_kind_check";`);

    this.addSql(`alter table "idempotency_key" add constraint "idempotency_key_kind_check" check("kind" in ('ADJUST', 'TRANSFER', 'CREATE_SALES_SESSION', 'REGISTER_WEBHOOK'));`);
  }

}
