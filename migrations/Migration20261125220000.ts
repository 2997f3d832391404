import { Migration } from '@mikro-orm/migrations';

/**
 * How far retention has forgotten the events of each owner (a producer, a hub) and kind, so that
 * a stream resuming with `after` is refused only when an event it would deliver was forgotten: a
 * producer quiet for longer than EVENT_RETENTION was refused for others' forgotten events (found by
 * review). The database keeps the marks, in a trigger on every delete of events, so that the
 * passes of a replica of the version before count too during a rolling upgrade, and any other
 * delete. What was forgotten before is nobody's in particular: it stays a floor for every stream
 * (unattributed_through). A small table and a trigger: nothing is rewritten.
 */
export class Migration20261125220000 extends Migration {

  override async up(): Promise<void> {
    this.addSql(`create table "pruned_event_mark" ("owner_id" uuid not null, "kind" varchar(32) not null, "through_position" bigint not null, constraint "pruned_event_mark_pkey" primary key ("owner_id", "kind"));`);

    // Statement-level, with the deleted rows as a table: one pass of a batch of thousands is one
    // call. The whole log's mark is raised first: concurrent deletes then wait here, one after
    // the other, and take the owners' rows in the same order (no deadlock).
    this.addSql(`
      create function record_forgotten_events() returns trigger language plpgsql as $$
      begin
        update pruned_events set through_position = greatest(through_position, (select max(position) from gone))
         where exists (select 1 from gone where position is not null);
        insert into pruned_event_mark (owner_id, kind, through_position)
        select owner_id, kind, max(position) from (
            select producer_id as owner_id, kind, position from gone where position is not null
            union all
            select hub_id, kind, position from gone where position is not null and hub_id is not null
          ) forgotten
         group by owner_id, kind
         order by owner_id, kind
        on conflict (owner_id, kind) do update set through_position = greatest(pruned_event_mark.through_position, excluded.through_position);
        return null;
      end $$;`);
    // domain_event before pruned_events, the order a previous-version replica's retention
    // statement locks them in (its DELETE, then its UPDATE): the other order deadlocked with it.
    this.addSql(`create trigger domain_event_forgotten after delete on domain_event referencing old table as gone
                   for each statement execute function record_forgotten_events();`);

    this.addSql(`alter table "pruned_events" add column "unattributed_through" bigint not null default 0;`);
    this.addSql(`update "pruned_events" set "unattributed_through" = "through_position";`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop trigger domain_event_forgotten on domain_event;`);
    this.addSql(`drop function record_forgotten_events();`);
    this.addSql(`drop table if exists "pruned_event_mark" cascade;`);

    this.addSql(`alter table "pruned_events" drop column "unattributed_through";`);
  }

}
