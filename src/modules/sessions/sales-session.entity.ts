import { Check, Entity, Index, ManyToOne, Property } from '@mikro-orm/core';
import { ObjectType } from 'type-graphql';
import { BaseEntity } from '../../shared/base.entity.js';
import { Hub } from '../enterprises/hub.entity.js';

/**
 * A hub's sales session (DFC SaleSession, an order cycle). Its status is not stored: it follows
 * from the clock and from `closedAt`/`completedAt`/`cancelledAt` (see sessionStatus()).
 */
@ObjectType({ simpleResolvers: true })
@Entity()
@Check({ name: 'sales_session_closes_after_opening', expression: 'closes_at > opens_at' })
// The scheduler's search for sessions to complete reads only those not yet completed.
@Index({
  name: 'sales_session_due_for_completion',
  expression: `create index "sales_session_due_for_completion" on "sales_session" ("closes_at") where "completed_at" is null`,
})
// The scheduler's search for closes to announce reads only those not yet announced.
@Index({
  name: 'sales_session_close_unannounced',
  expression: `create index "sales_session_close_unannounced" on "sales_session" ("closes_at") where "close_announced_at" is null`,
})
@Index({ properties: ['hub'] })
export class SalesSession extends BaseEntity {
  @ManyToOne({ entity: () => Hub })
  hub: Hub;

  @Property({ type: 'datetime' })
  opensAt: Date;

  /** When the session closes on schedule. */
  @Property({ type: 'datetime' })
  closesAt: Date;

  /** IANA zone the hub's wall-clock times are read in, e.g. Europe/Paris. */
  @Property({ type: 'string', length: 64 })
  timeZone: string;

  /** When the hub receives the producers' deliveries; the day pick lists are made for. Defaults to `closesAt`. */
  @Property({ type: 'datetime', nullable: true })
  deliversAt?: Date | null;

  /** Set when a trader closed the session before `closesAt`. */
  @Property({ type: 'datetime', nullable: true })
  closedAt?: Date;

  /** Set, in the same transaction, when the scheduler completed the session's producer orders. */
  @Property({ type: 'datetime', nullable: true })
  completedAt?: Date;

  /**
   * Set when the hub cancelled the session with its orders (SessionCancellationService). A
   * cancelled session also has `closedAt` and `completedAt`: it sells nothing more and the
   * scheduler has nothing left to complete.
   */
  @Property({ type: 'datetime', nullable: true })
  cancelledAt?: Date;

  /**
   * When its storefronts were told it stopped selling: SESSION_CLOSED events for its offers on
   * sale, written by closeSalesSession or a cancel, or by the scheduler once `closesAt` passed
   * (announceScheduledCloses()): a storefront that read `closesAt` before the hub moved it
   * would otherwise sell on. Null: not yet.
   */
  @Property({ type: 'datetime', nullable: true })
  closeAnnouncedAt?: Date;

  /**
   * The newest event positioned when the session was created: availabilityChanged replays its
   * products' changes after it only (positions, not clocks: replicas' clocks differ). Null for
   * sessions created before it was kept.
   */
  @Property({ type: 'bigint', nullable: true })
  firstEventPosition?: string;

  constructor(hub: Hub, opensAt: Date, closesAt: Date, timeZone: string) {
    super();
    this.hub = hub;
    this.opensAt = opensAt;
    this.closesAt = closesAt;
    this.timeZone = timeZone;
  }
}
