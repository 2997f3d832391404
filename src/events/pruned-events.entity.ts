import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * How far retention has forgotten the event log (pruneEvents()): one row, raised in the statement
 * that deletes. Positions have no gaps, so a replay after an event older than this could miss
 * events and not know it; it is refused instead (replayStart() in the live resolver), unless the
 * stream's owners' marks (PrunedEventsByOwner) show none of its events were forgotten.
 */
@Entity({ tableName: 'pruned_events' })
export class PrunedEvents {
  /** Always 1: there is one log. */
  @PrimaryKey({ type: 'smallint', autoincrement: false })
  id!: number;

  /** The newest position forgotten so far ('0' while none is). */
  @Property({ type: 'bigint' })
  throughPosition!: string;

  /**
   * How far the log was forgotten with no owners' marks kept (before Migration20261125220000, or
   * by a previous-version replica since): whose those events were is not known, so every stream
   * counts them.
   */
  @Property({ type: 'bigint', defaultRaw: '0' })
  unattributedThrough!: string;

  /**
   * How far the passes that keep owners' marks have forgotten: `throughPosition` beyond it was
   * forgotten by a replica of the version before (a rolling upgrade), whose events' owners are not
   * known, and counts for every stream; the next pass makes it `unattributedThrough`.
   */
  @Property({ type: 'bigint', defaultRaw: '0' })
  attributedThrough!: string;
}

/**
 * How far retention has forgotten the events of one owner: a producer (every event names one) or
 * a hub (the events of its producer orders). A stream resuming with `after` is refused only if an
 * event of its own owners after that was forgotten: a producer quiet for longer than the
 * retention, whose own events are all kept, resumes while others' are forgotten.
 */
@Entity({ tableName: 'pruned_events_by_owner' })
export class PrunedEventsByOwner {
  /** A producer's or a hub's id (random UUIDs: one key space). */
  @PrimaryKey({ type: 'uuid' })
  ownerId!: string;

  /** The newest position of this owner's events forgotten so far. */
  @Property({ type: 'bigint' })
  throughPosition!: string;
}
