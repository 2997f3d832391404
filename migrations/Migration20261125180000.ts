import { Migration } from '@mikro-orm/migrations';

/**
 * How far retention has forgotten the event log (PrunedEvents), so that a subscription resuming
 * with an `after` older than that is refused instead of replaying the rest as if nothing were
 * missing (found by review). Its first value is worked out from the log as it stands: positions
 * have no gaps, so the newest one missing below the newest kept is the newest forgotten (a
 * single scan of the kept events, which retention bounds).
 */
export class Migration20261125180000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "pruned_events" ("id" smallint not null, "through_position" bigint not null, constraint "pruned_events_pkey" primary key ("id"));`);
    this.addSql(`insert into "pruned_events" ("id", "through_position")
      select 1, coalesce(max(position - 1), 0)
        from (select position, lag(position) over (order by position) as previous
                from domain_event where position is not null) kept
       where position - 1 > coalesce(previous, 0);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists "pruned_events" cascade;`);
  }

}
