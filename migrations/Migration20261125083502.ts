import { Migration } from '@mikro-orm/migrations';

/**
 * addOffers takes an idempotency key: its kind joins the keys' CHECK. Re-adding the CHECK reads
 * idempotency_key once (keys are kept IDEMPOTENCY_KEY_RETENTION, 30 days by default), holding
 * keyed writes for that moment.
 */
export class Migration20261125083502 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`alter table "idempotency_key" drop constraint if exists "idempotency_key_kind_check";`);

    this.addSql(`alter table "idempotency_key" add constraint "idempotency_key_kind_check" check("kind" in ('ADJUST', 'TRANSFER', 'CREATE_SALES_SESSION', 'REGISTER_WEBHOOK', 'CREATE_PRODUCER', 'CREATE_HUB', 'ADD_OFFERS'));`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table "idempotency_key" drop constraint if exists "idempotency_key_kind_check";`);

    this.addSql(`alter table "idempotency_key" add constraint "idempotency_key_kind_check" check("kind" in ('ADJUST', 'TRANSFER', 'CREATE_SALES_SESSION', 'REGISTER_WEBHOOK', 'CREATE_PRODUCER', 'CREATE_HUB'));`);
  }

}
