import { Migration } from '@mikro-orm/migrations';

/**
 * How far retention has forgotten each owner's events (a producer's, a hub's), so that a stream
 * resuming with `after` is refused only when an event of its own was forgotten: a producer quiet
 * for longer than EVENT_RETENTION was refused for others' forgotten events (found by review).
 * What was forgotten before is nobody's in particular: it stays a floor for every stream
 * (unattributed_through), as does what a previous-version replica forgets during the rollout
 * (through_position beyond attributed_through). Two small tables: nothing is rewritten.
 */
export class Migration20261125220000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "pruned_events_by_owner" ("owner_id" uuid not null, "through_position" bigint not null, constraint "pruned_events_by_owner_pkey" primary key ("owner_id"));`);

    this.addSql(`alter table "pruned_events" add column "unattributed_through" bigint not null default 0, add column "attributed_through" bigint not null default 0;`);
    this.addSql(`update "pruned_events" set "unattributed_through" = "through_position", "attributed_through" = "through_position";`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "pruned_events_by_owner" cascade;`);

    this.addSql(`alter table "pruned_events" drop column "unattributed_through", drop column "attributed_through";`);
  }

}
