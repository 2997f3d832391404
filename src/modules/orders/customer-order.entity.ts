import { Entity, Enum, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { Field, ObjectType } from 'type-graphql';
import { BaseEntity } from '../../shared/base.entity.js';
import { Hub } from '../enterprises/hub.entity.js';
import { SalesSession } from '../sessions/sales-session.entity.js';
import { CustomerOrderStatus } from './order-states.js';

/**
 * A customer_order row as PostgreSQL returns it (column names), read inside the transaction that
 * changed it, for the entity manager to map without reading it again.
 */
export type CustomerOrderRow = Record<string, unknown> & { id: string; request_hash: string };

/** What the API reads of a customer order: the entity, or the row a write returned (orderFromRow). */
export type CustomerOrderView = Pick<CustomerOrder, 'id' | 'createdAt' | 'updatedAt' | 'customerRef' | 'status' | 'holdExpiresAt' | 'paidAt' | 'idempotencyKey' | 'requestHash'> & {
  salesSession: { id: string };
  hub: { id: string };
  replacedBy?: { id: string } | null;
};

/**
 * The order as the checkout's or payment's own statement returned it, for the answer to read.
 * Not mapped into the entity manager: nothing in that request changes the order again, and
 * em.map (the identity map, the change-tracking snapshot) cost about 8% of the server's CPU per
 * checkout and payment (bench/RESULTS.md).
 */
export function orderFromRow(row: CustomerOrderRow): CustomerOrderView {
  return {
    id: row.id,
    createdAt: new Date(row.created_at as string),
    updatedAt: new Date(row.updated_at as string),
    salesSession: { id: row.sales_session_id as string },
    hub: { id: row.hub_id as string },
    customerRef: row.customer_ref as string,
    status: row.status as CustomerOrderStatus,
    holdExpiresAt: row.hold_expires_at === null ? undefined : new Date(row.hold_expires_at as string),
    paidAt: row.paid_at === null || row.paid_at === undefined ? undefined : new Date(row.paid_at as string),
    replacedBy: typeof row.replaced_by_id === 'string' ? { id: row.replaced_by_id } : null,
    idempotencyKey: row.idempotency_key as string,
    requestHash: row.request_hash,
  };
}

/** A customer's basket checked out at a hub in one session. */
@ObjectType({ simpleResolvers: true })
@Entity()
// Idempotency keys are scoped to the hub that sends them.
@Unique({ name: 'customer_order_hub_idempotency_key', properties: ['hub', 'idempotencyKey'] })
// The scheduler's search for lapsed holds reads only the pending few, however many orders there are.
@Index({
  name: 'customer_order_hold_expiry',
  expression: `create index "customer_order_hold_expiry" on "customer_order" ("hold_expires_at") where "status" = 'PENDING_PAYMENT'`,
})
@Index({ properties: ['salesSession', 'status'] })
export class CustomerOrder extends BaseEntity {
  @ManyToOne({ entity: () => SalesSession })
  salesSession!: SalesSession;

  @ManyToOne({ entity: () => Hub })
  hub!: Hub;

  @Field(() => String)
  @Property({ type: 'string', length: 200 })
  customerRef!: string;

  @Field(() => CustomerOrderStatus)
  @Enum({ items: () => CustomerOrderStatus, type: 'string' })
  status: CustomerOrderStatus = CustomerOrderStatus.PENDING_PAYMENT;

  /** Set while PENDING_PAYMENT: when the hold lapses if no payment result has arrived. */
  @Property({ type: 'datetime', nullable: true })
  holdExpiresAt?: Date;

  /**
   * When its payment was confirmed (confirmPayment); kept when the order is cancelled afterwards,
   * so the hub knows which cancelled orders to refund. Null for orders paid before
   * Migration20261125075122.
   */
  @Property({ type: 'datetime', nullable: true })
  paidAt?: Date;

  @Property({ type: 'string', length: 200 })
  idempotencyKey!: string;

  /** A digest of the checkout input, to tell a retry from a different request with the same key. */
  @Property({ type: 'string', length: 64 })
  requestHash!: string;

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  updatedAt: Date = new Date();

  /**
   * The order that took this one's place when its customer changed the basket (a checkout with
   * `replacesCustomerOrderId`): this one was cancelled in the same transaction.
   */
  @ManyToOne({ entity: () => CustomerOrder, nullable: true })
  replacedBy?: CustomerOrder | null;

  /**
   * When the hold of a changed basket's chain began: the first checkout's instant, which bounds
   * the hold as HOLD_MAX_DURATION (extendHold, finishReplacing()). Null: `createdAt`.
   */
  @Property({ type: 'datetime', nullable: true })
  holdStartedAt?: Date;

  /**
   * With `holdStartedAt`: the chain's first checkout's `arrivalSeq`, so that a changed basket
   * also keeps its first checkout's place among checkouts whose instants tie (a short fill's
   * rule). Null: `arrivalSeq`.
   */
  @Property({ type: 'bigint', nullable: true })
  firstArrivalSeq?: string;

  /**
   * The order checkouts were placed in, strictly increasing, where `createdAt` ties: the
   * checkouts of one batch share their instant (CheckoutBatcher), and are numbered in the order
   * they arrived. Null for orders placed before migration 20261124220446.
   */
  @Property({ type: 'bigint', nullable: true, defaultRaw: 'customer_order_next_arrival()' })
  arrivalSeq?: string;
}
