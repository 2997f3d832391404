import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';

/**
 * The event log behind subscriptions, replay and webhooks. Rows are written inside the
 * transaction that causes them (a rolled-back checkout leaves none) and get their `position`
 * after commit, from the relay, one relay at a time: positions therefore become visible in
 * increasing order, which is what lets a client resume with `after` and miss nothing.
 */
@Entity({ tableName: 'domain_event' })
@Index({ name: 'domain_event_unpositioned', expression: 'create index "domain_event_unpositioned" on "domain_event" ("id") where "position" is null' })
@Index({ properties: ['producerId', 'position'] })
@Index({ properties: ['productId', 'position'] })
@Index({ properties: ['hubId', 'position'] })
// Partial: a session's offer events are few, and the hot path's HELD events then cost no entry.
@Index({
  name: 'domain_event_offer_changes',
  expression: 'create index "domain_event_offer_changes" on "domain_event" ("sales_session_id", "position") where "sales_session_id" is not null',
})
// Retention finds the events older than its cutoff without reading the whole log.
@Index({ properties: ['createdAt'] })
export class DomainEvent {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'bigint', nullable: true, unique: true })
  position?: string;

  /** EventKind: reservations, stock changes, fulfilment, or a session's offers changing. */
  @Property({ type: 'string', length: 32 })
  kind!: string;

  @Property({ type: 'uuid' })
  producerId!: string;

  @Property({ type: 'uuid' })
  productId!: string;

  @Property({ type: 'uuid', nullable: true })
  producerOrderId?: string;

  /** The hub of the producer order, for hub-scoped webhooks (none for stock adjustments). */
  @Property({ type: 'uuid', nullable: true })
  hubId?: string;

  @Property({ type: 'uuid', nullable: true })
  customerOrderId?: string;

  /** The session whose offer was added, withdrawn, restored or capped, or that closed (OFFER_KINDS); none for other kinds. */
  @Property({ type: 'uuid', nullable: true })
  salesSessionId?: string;

  /** The location of a fulfilment change (a transfer's destination, a received lot's location). */
  @Property({ type: 'uuid', nullable: true })
  locationId?: string;

  /** The lot of a fulfilment change (received, swapped in, shipped from). */
  @Property({ type: 'uuid', nullable: true })
  lotId?: string;

  /**
   * The change this event brought: positive, the kind saying which way, but for ADJUSTED, which
   * is the change as made (negative for a write-off). Wider than a stock level: summed over a
   * product's locations, as `available` is.
   */
  @Property({ type: 'decimal', precision: 20, scale: 3 })
  quantity!: string;

  /** The product's availability right after the change, at all its locations. */
  @Property({ type: 'decimal', precision: 20, scale: 3 })
  available!: string;

  /**
   * Whether the change moved `available`: a hold, a release, an adjustment, a short shipment do;
   * a completion, a full shipment, a transfer, a swap, a short fill do not. The public storefront
   * stream (availabilityChanged) is sent only those that did: the others are the producer's and
   * the order's hub's business. True for events written before it was kept.
   */
  @Property({ type: 'boolean', default: true })
  availableChanged: boolean = true;

  @Property({ type: 'datetime' })
  createdAt!: Date;
}
