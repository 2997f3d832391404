import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * How far retention has forgotten the event log (pruneEvents()): one row, raised in the statement
 * that deletes. Positions have no gaps, so a replay after an event older than this could miss
 * events and not know it; it is refused instead (replayStart() in the live resolver).
 */
@Entity({ tableName: 'pruned_events' })
export class PrunedEvents {
  /** Always 1: there is one log. */
  @PrimaryKey({ type: 'smallint', autoincrement: false })
  id!: number;

  /** The newest position forgotten so far ('0' while none is). */
  @Property({ type: 'bigint' })
  throughPosition!: string;
}
