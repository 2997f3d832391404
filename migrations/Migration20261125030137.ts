import { Migration } from '@mikro-orm/migrations';

/**
 * Producers' approvals of the hubs that may offer their products (hub-approval.entity.ts). Every
 * producer already offered in a hub's session is taken to have approved that hub, so hubs go on
 * making the sessions they made before the upgrade; a producer revokes what it did not mean.
 */
export class Migration20261125030137 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "hub_approval" ("producer_id" uuid not null, "hub_id" uuid not null, "created_at" timestamptz not null default now(), constraint "hub_approval_pkey" primary key ("producer_id", "hub_id"));`);
    this.addSql(`create index "hub_approval_hub_id_index" on "hub_approval" ("hub_id");`);
    this.addSql(`insert into "hub_approval" ("producer_id", "hub_id", "created_at")
      select p.producer_id, s.hub_id, min(f.created_at)
        from offer f join product p on p.id = f.product_id join sales_session s on s.id = f.sales_session_id
       group by p.producer_id, s.hub_id;`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "hub_approval" cascade;`);
  }

}
