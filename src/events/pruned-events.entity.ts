import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * How far retention has forgotten the event log: one row, raised by the database whenever events
 * are deleted (the trigger domain_event_forgotten, Migration20261125220000). Positions have no
 * gaps, so a replay after an event older than this could miss events and not know it.
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
   * How far the log was forgotten before the database kept marks of whose events they were
   * (PrunedEventMark): those count for every stream.
   */
  @Property({ type: 'bigint', defaultRaw: '0' })
  unattributedThrough!: string;
}

/**
 * How far the events of one kind and one owner have been forgotten: a producer (every event names
 * one) or a hub (the events of its producer orders). Kept by the database as events are deleted,
 * by whichever version of the server deletes them. A stream resuming with `after` is refused only
 * if an event it would deliver, of its owners and kinds, was forgotten after that (replayStart()
 * in the live resolver): a producer quiet for longer than EVENT_RETENTION resumes.
 */
@Entity({ tableName: 'pruned_event_mark' })
export class PrunedEventMark {
  /** A producer's or a hub's id (random UUIDs: one key space). */
  @PrimaryKey({ type: 'uuid' })
  ownerId!: string;

  /** EventKind. */
  @PrimaryKey({ type: 'string', length: 32 })
  kind!: string;

  /** The newest position of this owner's events of this kind forgotten so far. */
  @Property({ type: 'bigint' })
  throughPosition!: string;
}
