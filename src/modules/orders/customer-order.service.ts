import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { customerOrderScope, forbidden, seesCustomerOrder } from '../../auth/policy.js';
import { DomainError, UserErrorCode } from '../../shared/errors.js';
import { doEachDue, type DueItem, type DueOutcome } from '../../scheduler/each-due.js';
import { pageByCreation } from '../../shared/creation-pages.js';
import { isUuid } from '../../shared/ids.js';
import type { Actor, RequestContext } from '../../shared/request-context.js';
import { instant, preparedSql, sql, uuidArray } from '../../shared/sql.js';
import { releaseOfferCaps } from '../sessions/offer-caps.js';
import { readSessionTimes, SalesSessionStatus, sessionStatus, type SessionTimes } from '../sessions/session-status.js';
import type { StockService } from '../stock/stock.service.js';
import { lockLevels } from '../stock/level-locks.js';
import type { Duration } from 'luxon';
import { CustomerOrder, type CustomerOrderRow as OrderRow, type CustomerOrderView, orderFromRow } from './customer-order.entity.js';
import { CustomerOrderStatus, holdLapsed } from './order-states.js';

/** How many lapsed holds are expired at a time, outside the scheduler. */
const LAPSED_BATCH = 100;

/** A new basket replacing an order: where the order must be (its session, its customer), and what the basket takes. */
export interface ReplacingBasket {
  salesSessionId: string;
  customerRef: string;
  /** Its offers and their products, whose locks the replacement takes with the old order's. */
  offerIds: string[];
  productIds: string[];
}

/** A replacement under way (beginReplacing()), for finishReplacing(). */
export interface Replacing {
  /** The order being replaced. */
  orderId: string;
  /** The new basket's products, whose levels are locked with the old order's. */
  productIds: string[];
  /** When the hold of the chain of baskets began. */
  holdStartedAt: Date;
}

/** What can happen to a customer order after checkout. */
export enum OrderEvent {
  PAYMENT_SUCCEEDED = 'PAYMENT_SUCCEEDED',
  PAYMENT_FAILED = 'PAYMENT_FAILED',
  CANCELLED = 'CANCELLED',
  HOLD_LAPSED = 'HOLD_LAPSED',
}

/** The status each event leads to; reaching it again is a no-op, which makes every call idempotent. */
const TARGET: Record<OrderEvent, CustomerOrderStatus> = {
  [OrderEvent.PAYMENT_SUCCEEDED]: CustomerOrderStatus.CONFIRMED,
  [OrderEvent.PAYMENT_FAILED]: CustomerOrderStatus.PAYMENT_FAILED,
  [OrderEvent.CANCELLED]: CustomerOrderStatus.CANCELLED,
  [OrderEvent.HOLD_LAPSED]: CustomerOrderStatus.EXPIRED,
};

interface LockedOrder {
  status: CustomerOrderStatus;
  holdExpiresAt: Date | null;
}

/** Unchanged or changed, the order as it now is, read in the transaction: no second round trip. */
type Outcome =
  | { kind: 'unchanged'; order: OrderRow }
  | { kind: 'changed'; order: OrderRow }
  /** The hold had lapsed: the order was expired (and that committed), but the event was refused. */
  | { kind: 'refused'; error: DomainError };

export interface CustomerOrderFilter {
  salesSessionId: string;
  status?: CustomerOrderStatus[] | null;
  customerRef?: string | null;
  idempotencyKey?: string | null;
  limit: number;
  after?: string | null;
}

/** How long holds last: from a checkout or an extension, and at most from the checkout. */
export interface HoldDurations {
  duration: Duration;
  max: Duration;
}

export class CustomerOrderService {
  constructor(
    private readonly stock: StockService,
    private readonly holds: HoldDurations,
  ) {}

  /**
   * A session's customer orders the caller may see (a hub those it took, a customer their own, the
   * operator all), oldest first, a page at a time. Read through the (session, status) index: a
   * session's orders only, however many sessions came before.
   */
  async list(ctx: RequestContext, filter: CustomerOrderFilter): Promise<CustomerOrder[]> {
    if (!isUuid(filter.salesSessionId)) return [];
    const scope = customerOrderScope(ctx.actor);
    // Stored trimmed, as checkout keeps them.
    const customerRef = filter.customerRef?.trim();
    if (!scope || (scope.customerRef !== undefined && customerRef !== undefined && customerRef !== scope.customerRef)) return [];
    const listed: FilterQuery<CustomerOrder> = { salesSession: filter.salesSessionId };
    if (scope.hubId !== undefined) listed.hub = scope.hubId;
    const ref = scope.customerRef ?? customerRef;
    if (ref !== undefined) listed.customerRef = ref;
    if (filter.idempotencyKey !== undefined && filter.idempotencyKey !== null) listed.idempotencyKey = filter.idempotencyKey.trim();
    // An empty list of statuses asks for orders in none of them.
    const where = filter.status ? { ...listed, status: { $in: filter.status.length > 0 ? filter.status : [null] } } : listed;
    return pageByCreation(ctx.em, CustomerOrder, {
      listed,
      where,
      limit: filter.limit,
      after: filter.after,
      notFound: 'customer order of this list',
      // The orders of one checkout batch share their instant: in the order they were placed.
      tiebreak: { property: 'arrivalSeq', column: 'arrival_seq' },
    });
  }

  /** The order, if the caller may see it: its hub, its customer, or the operator. */
  async findCustomerOrder(ctx: RequestContext, id: string): Promise<CustomerOrder | null> {
    const order = isUuid(id) ? await ctx.em.findOne(CustomerOrder, id) : null;
    return order && seesCustomerOrder(ctx.actor, { hubId: order.hub.id, customerRef: order.customerRef }) ? order : null;
  }

  async confirmPayment(ctx: RequestContext, customerOrderId: string): Promise<CustomerOrderView> {
    const confirmed = isUuid(customerOrderId) ? await this.confirmIfPending(ctx, customerOrderId) : undefined;
    if (confirmed) return orderFromRow(confirmed);
    return this.apply(ctx, customerOrderId, OrderEvent.PAYMENT_SUCCEEDED);
  }

  /**
   * The common case of a payment result, in one statement instead of a transaction of four: a
   * pending order whose hold has not lapsed, confirmed by its hub or the operator. It takes the
   * same locks as transition() (the session shared, the order exclusive), and confirming changes
   * no stock. Anything else (a lapsed hold, another status, another hub's order) returns
   * undefined and goes through transition(), which decides and explains.
   */
  private async confirmIfPending(ctx: RequestContext, orderId: string): Promise<OrderRow | undefined> {
    const actor = ctx.actor;
    if (actor.kind !== 'admin' && actor.kind !== 'hub') return undefined;
    const now = ctx.clock.now();
    const [row] = await preparedSql<{ order: OrderRow | null }>(
      ctx.em,
      `WITH target AS (
         SELECT o.id FROM customer_order o JOIN sales_session s ON s.id = o.sales_session_id
          WHERE o.id = ? AND o.status = ? AND (o.hold_expires_at IS NULL OR o.hold_expires_at > ?)
            AND (?::uuid IS NULL OR o.hub_id = ?::uuid)
            FOR KEY SHARE OF s FOR UPDATE OF o),
       confirmed AS (
         -- By primary key, not joined to target: a plan made while the table was small joined
         -- it to every pending order, found through the (session, status) index or a scan.
         UPDATE customer_order o SET status = ?, hold_expires_at = NULL, updated_at = ?, paid_at = ?
          WHERE o.id = (SELECT t.id FROM target t) AND o.status = ?
         RETURNING o.*)
       SELECT (SELECT row_to_json(c) FROM confirmed c) AS "order"`,
      [orderId, CustomerOrderStatus.PENDING_PAYMENT, now, actor.kind === 'hub' ? actor.hubId : null, actor.kind === 'hub' ? actor.hubId : null,
        CustomerOrderStatus.CONFIRMED, now, now, CustomerOrderStatus.PENDING_PAYMENT],
    );
    return row?.order ?? undefined;
  }

  failPayment(ctx: RequestContext, customerOrderId: string): Promise<CustomerOrderView> {
    return this.apply(ctx, customerOrderId, OrderEvent.PAYMENT_FAILED);
  }

  cancel(ctx: RequestContext, customerOrderId: string): Promise<CustomerOrderView> {
    return this.apply(ctx, customerOrderId, OrderEvent.CANCELLED);
  }

  /**
   * Expires every hold whose time ran out without a payment result. Each order is its own short
   * transaction, and re-checked under its lock, so replicas doing this at once expire each once.
   */
  async expireLapsedHolds(ctx: RequestContext, limit = 500): Promise<DueOutcome> {
    // With the products whose levels each expiry locks: one busy product costs the pass one wait.
    const due = await sql<DueItem>(
      ctx.em,
      `SELECT o.id, array(SELECT DISTINCT l.product_id FROM customer_order_line l WHERE l.customer_order_id = o.id)::text[] AS "productIds"
         FROM customer_order o WHERE o.status = 'PENDING_PAYMENT' AND o.hold_expires_at <= ?
        ORDER BY o.hold_expires_at LIMIT ?`,
      [ctx.clock.now(), limit],
    );
    return doEachDue(ctx, due, async (em, id) =>
      (await this.transition(em, ctx.actor, ctx.clock.now(), id, OrderEvent.HOLD_LAPSED)).kind === 'changed');
  }

  /**
   * How many holds this process has expired so far, whoever in it expired them (the scheduler, a
   * checkout's expireLapsedHoldsOf(), a late payment result or extension): a checkout refused for
   * want of stock tries again if one expired meanwhile. Counted as each expiry is written, before
   * its commit: counted after, a checkout that read the stock freed by it, but the counter before
   * it, was refused though the stock was there. One that then fails to commit only costs a retry.
   */
  get holdsExpired(): number {
    return this.expiries;
  }

  private expiries = 0;

  /** Counts holds expired as they are written: by finish(), or by a session's cancel. */
  countExpiries(count: number): void {
    this.expiries += count;
  }

  /**
   * Expires, at once, the lapsed holds of the products these offers sell (at any hub), for a
   * checkout refused for want of stock that such a hold counted, rather than leave them to the
   * scheduler's next tick. Lapsed holds are few (the scheduler expires them every tick), found
   * through the index of pending holds; each is expired as the scheduler would, in a transaction
   * of its own, as the platform rather than the caller. Answers how many of those it found are
   * free now, expired by it or by someone else meanwhile. The oldest 100: a checkout needs only
   * enough of them, and tries again.
   */
  async expireLapsedHoldsOf(ctx: RequestContext, offerIds: readonly string[]): Promise<number> {
    const of = 'EXISTS (SELECT 1 FROM customer_order_line l JOIN offer f ON f.product_id = l.product_id WHERE l.customer_order_id = o.id AND f.id = ANY(?::uuid[]))';
    return this.expireLapsed(ctx, of, offerIds);
  }

  /**
   * Expires, at once, every lapsed hold of these offers, in their session only: what a change of
   * their cap counts (holds of their products at other hubs are not its business, however many).
   * A batch at a time, while whole batches are freed (one that is not is left to the scheduler).
   */
  async expireLapsedHoldsOn(ctx: RequestContext, offerIds: readonly string[]): Promise<void> {
    const on = 'EXISTS (SELECT 1 FROM customer_order_line l WHERE l.customer_order_id = o.id AND l.offer_id = ANY(?::uuid[]))';
    let freed: number;
    do freed = await this.expireLapsed(ctx, on, offerIds);
    while (freed === LAPSED_BATCH);
  }

  /** The oldest lapsed holds of the orders `whose` names (of `offerIds`), expired; how many are free now, expired by it or by someone else meanwhile. */
  private async expireLapsed(ctx: RequestContext, whose: string, offerIds: readonly string[]): Promise<number> {
    const due = await sql<{ id: string }>(
      ctx.em,
      `SELECT o.id FROM customer_order o
        WHERE o.status = 'PENDING_PAYMENT' AND o.hold_expires_at <= ? AND ${whose}
        ORDER BY o.hold_expires_at LIMIT ?`,
      [ctx.clock.now(), uuidArray(offerIds), LAPSED_BATCH],
    );
    let freed = 0;
    for (const { id } of due) {
      const outcome = await this.expireAsPlatform(ctx, id);
      if (outcome?.kind === 'changed' || (outcome?.kind === 'unchanged' && outcome.order.status !== CustomerOrderStatus.PENDING_PAYMENT)) freed += 1;
    }
    return freed;
  }

  /**
   * Expires a lapsed hold as the scheduler would, in a transaction of its own. Waiting, unlike the
   * scheduler, for a hold another checkout is expiring: then it is free. A failure leaves the hold
   * to the scheduler, which logs its own.
   */
  private expireAsPlatform(ctx: RequestContext, id: string) {
    const system: Actor = { kind: 'system' };
    return ctx.em.transactional((em) => this.transition(em, system, ctx.clock.now(), id, OrderEvent.HOLD_LAPSED)).catch(() => undefined);
  }

  private async apply(ctx: RequestContext, customerOrderId: string, event: OrderEvent): Promise<CustomerOrderView> {
    if (!isUuid(customerOrderId)) throw orderNotFound(customerOrderId);
    const outcome = await ctx.em.transactional((em) => this.transition(em, ctx.actor, ctx.clock.now(), customerOrderId, event));
    if (outcome.kind === 'refused') throw outcome.error;
    return orderFromRow(outcome.order);
  }

  /**
   * Moves one order on, locking the session (shared, as checkout does), the order (exclusive),
   * then the stock rows. Leaving PENDING_PAYMENT or CONFIRMED for a dead end
   * releases the order's held stock at once, so every hub can sell it again.
   */
  private async transition(em: EntityManager, actor: Actor, now: Date, orderId: string, event: OrderEvent): Promise<Outcome> {
    // Payment results come from the hub; a customer may only cancel their own order, and is told
    // of another's no more than customerOrder(id) tells it (null): not found.
    const row = await lockOrder(em, orderId, {
      scope: event === OrderEvent.CANCELLED ? customerOrderScope(actor) : hubScope(actor),
      refused: () => (actor.kind === 'customer' ? orderNotFound(orderId) : forbidden('this order belongs to another hub or customer', 'customerOrderId')),
    });
    const session = readSessionTimes(row);
    const order = { status: row.status, holdExpiresAt: instant(row.holdExpiresAt) };

    const target = TARGET[event];
    const unchanged: Outcome = { kind: 'unchanged', order: row.order };
    if (order.status === target) return unchanged;
    const lapsed = holdLapsed(order, now);
    if (lapsed && (event === OrderEvent.PAYMENT_FAILED || event === OrderEvent.CANCELLED)) {
      // The order expired when its hold lapsed, whether or not the scheduler has marked it yet: it
      // is marked now, and the answer is the one an EXPIRED order gets.
      await this.finish(em, now, orderId, CustomerOrderStatus.EXPIRED);
      return { kind: 'refused', error: invalidState(CustomerOrderStatus.EXPIRED, event) };
    }

    switch (event) {
      case OrderEvent.HOLD_LAPSED:
        if (!lapsed) return unchanged;
        break;
      case OrderEvent.PAYMENT_SUCCEEDED:
        if (lapsed) {
          // The payment came too late: the hold is gone. Expire it now rather than leave it to the
          // scheduler, so the stock is back on sale the moment anyone learns of it.
          await this.finish(em, now, orderId, CustomerOrderStatus.EXPIRED);
          return { kind: 'refused', error: holdExpired() };
        }
        if (order.status === CustomerOrderStatus.EXPIRED) throw holdExpired();
        if (order.status !== CustomerOrderStatus.PENDING_PAYMENT) throw invalidState(order.status, event);
        return { kind: 'changed', order: await this.setStatus(em, now, orderId, target, { paid: true }) };
      case OrderEvent.PAYMENT_FAILED:
        if (order.status !== CustomerOrderStatus.PENDING_PAYMENT) throw invalidState(order.status, event);
        break;
      case OrderEvent.CANCELLED:
        if (order.status !== CustomerOrderStatus.PENDING_PAYMENT && order.status !== CustomerOrderStatus.CONFIRMED) {
          throw invalidState(order.status, event);
        }
        // After the close the producer is already working from the order: it can't be taken back here.
        if (sessionStatus(session, now) !== SalesSessionStatus.OPEN) {
          throw DomainError.of(UserErrorCode.SESSION_NOT_OPEN, 'the sales session has closed: the order can no longer be cancelled', ['customerOrderId']);
        }
        break;
    }
    return { kind: 'changed', order: await this.finish(em, now, orderId, target) };
  }

  /**
   * Ends an order's claim on stock: its lines leave the producer orders and the stock is released,
   * and so is what it took of capped offers (before the stock: the order offers and levels are
   * locked in everywhere).
   */
  private async finish(em: EntityManager, now: Date, orderId: string, status: CustomerOrderStatus): Promise<OrderRow> {
    await releaseOfferCaps(em, orderId);
    await this.stock.releaseCustomerOrder(em, now, orderId);
    if (status === CustomerOrderStatus.EXPIRED) this.countExpiries(1);
    return this.setStatus(em, now, orderId, status);
  }

  /**
   * First half of replacing a pending order with a new basket (its customer changed it), in the
   * new checkout's transaction, before the new order is written: the order must be the same
   * customer's, in the same session, with its hold running. The order is locked only if it is
   * the caller's hub's (lockOrder()), so naming another hub's order locks nothing of that hub's;
   * then both baskets' capped offers (in id order, before anything is let go: letting go of some and
   * then taking others would take them out of the order every writer keeps), and the old
   * order's share of them is given back, for the new order's lines to take.
   */
  async beginReplacing(em: EntityManager, actor: Actor, now: Date, orderId: string, basket: ReplacingBasket): Promise<Replacing> {
    const field = 'replacesCustomerOrderId';
    const refuse = (code: UserErrorCode, message: string) => DomainError.of(code, message, [field]);
    // Another hub's order is not found, and not locked.
    const row = await lockOrder(em, orderId, { scope: hubScope(actor), field });
    if (row.order.sales_session_id !== basket.salesSessionId) throw refuse(UserErrorCode.INVALID_INPUT, 'the order was checked out in another sales session');
    if (row.customerRef !== basket.customerRef) throw refuse(UserErrorCode.INVALID_INPUT, "the order is another customer's");
    const order = { status: row.status, holdExpiresAt: instant(row.holdExpiresAt) };
    // A lapsed hold is the scheduler's to expire (within a second): this transaction is about to fail.
    if (order.status === CustomerOrderStatus.EXPIRED || (order.status === CustomerOrderStatus.PENDING_PAYMENT && holdLapsed(order, now))) {
      throw refuse(UserErrorCode.HOLD_EXPIRED, "the order's hold expired: check the basket out afresh, without replacesCustomerOrderId");
    }
    if (order.status === CustomerOrderStatus.CONFIRMED) {
      throw refuse(UserErrorCode.INVALID_STATE, 'the order is paid: cancel it (and refund it), then check the new basket out');
    }
    if (order.status !== CustomerOrderStatus.PENDING_PAYMENT) throw refuse(UserErrorCode.INVALID_STATE, `only a pending order can be replaced: this one is ${order.status}`);
    await sql(
      em,
      `SELECT 1 FROM offer WHERE cap IS NOT NULL
          AND (id = ANY(?::uuid[]) OR id IN (SELECT offer_id FROM customer_order_line WHERE customer_order_id = ?))
        ORDER BY id FOR NO KEY UPDATE`,
      [uuidArray(basket.offerIds), orderId],
    );
    await releaseOfferCaps(em, orderId);
    return { orderId, productIds: basket.productIds, holdStartedAt: new Date((row.order.hold_started_at ?? row.order.created_at) as string) };
  }

  /**
   * Second half, once the new order is written (its idempotency key taken, as every checkout
   * takes it, before any stock level): both baskets' levels, then the old order's stock let go,
   * the old order CANCELLED and pointed at the new one, and the new order's hold timed. The new
   * basket is held next, under these locks. The new hold runs HOLD_DURATION from now, but never
   * past HOLD_MAX_DURATION from the first checkout of the chain (as extendHold), or changing a
   * basket every few minutes would keep its stock for ever. Answers the new order as it now is.
   */
  async finishReplacing(em: EntityManager, now: Date, { orderId, productIds, holdStartedAt: start }: Replacing, replacementId: string): Promise<OrderRow> {
    const held = await sql<{ productId: string }>(em, 'SELECT DISTINCT product_id AS "productId" FROM customer_order_line WHERE customer_order_id = ?', [orderId]);
    await lockLevels(em, [...productIds, ...held.map((line) => line.productId)]);
    await this.stock.releaseCustomerOrder(em, now, orderId);
    await sql(em, 'UPDATE customer_order SET status = ?, hold_expires_at = NULL, updated_at = ?, replaced_by_id = ? WHERE id = ?', [
      CustomerOrderStatus.CANCELLED, now, replacementId, orderId,
    ]);
    const expires = new Date(Math.min(now.getTime() + this.holds.duration.toMillis(), start.getTime() + this.holds.max.toMillis()));
    const [replacement] = await sql<OrderRow>(
      em,
      `UPDATE customer_order SET hold_expires_at = ?, hold_started_at = ?,
              first_arrival_seq = (SELECT coalesce(first_arrival_seq, arrival_seq) FROM customer_order WHERE id = ?)
        WHERE id = ? RETURNING *`,
      [expires, start, orderId, replacementId],
    );
    return replacement!;
  }

  /**
   * Gives a pending order's hold another HOLD_DURATION from now, for a payment that takes longer
   * (a bank's check, a second factor), but never past HOLD_MAX_DURATION from its checkout: stock
   * held is stock no other hub can sell. Its hub's (or the operator's) to ask, while the session
   * is open and the hold has not lapsed. Each call moves the hold to HOLD_DURATION from then (a
   * retry moves it as far as the first call did, or a little further); at the limit it answers with
   * the order as it is (holdExpiresAt says until when).
   */
  async extendHold(ctx: RequestContext, customerOrderId: string): Promise<CustomerOrderView> {
    if (!isUuid(customerOrderId)) throw orderNotFound(customerOrderId);
    const outcome = await ctx.em.transactional(async (em): Promise<Outcome> => {
      const now = ctx.clock.now();
      // Customers never get here (the mutation is the hub's).
      const row = await lockOrder(em, customerOrderId, { scope: hubScope(ctx.actor), refused: () => forbidden('this order belongs to another hub', 'customerOrderId') });
      const order = { status: row.status, holdExpiresAt: instant(row.holdExpiresAt) };
      if (order.status === CustomerOrderStatus.EXPIRED) throw holdExpired();
      if (order.status !== CustomerOrderStatus.PENDING_PAYMENT) {
        throw DomainError.of(UserErrorCode.INVALID_STATE, `only a pending order's hold can be extended: this one is ${order.status}`, ['customerOrderId']);
      }
      if (holdLapsed(order, now)) {
        // Lapsed: expired now, as a late payment result would find it.
        await this.finish(em, now, customerOrderId, CustomerOrderStatus.EXPIRED);
        return { kind: 'refused', error: holdExpired() };
      }
      if (sessionStatus(readSessionTimes(row), now) !== SalesSessionStatus.OPEN) {
        throw DomainError.of(UserErrorCode.SESSION_NOT_OPEN, 'the sales session has closed: the hold ends with the payment result or at its expiry', ['customerOrderId']);
      }
      // From the first checkout of a chain of changed baskets (finishReplacing()).
      const placedAt = new Date((row.order.hold_started_at ?? row.order.created_at) as string);
      const extended = new Date(Math.min(now.getTime() + this.holds.duration.toMillis(), placedAt.getTime() + this.holds.max.toMillis()));
      if (order.holdExpiresAt !== null && extended <= order.holdExpiresAt) return { kind: 'unchanged', order: row.order };
      const [updated] = await sql<OrderRow>(em, 'UPDATE customer_order SET hold_expires_at = ? WHERE id = ? RETURNING *', [extended, customerOrderId]);
      return { kind: 'changed', order: updated! };
    });
    if (outcome.kind === 'refused') throw outcome.error;
    return orderFromRow(outcome.order);
  }

  private async setStatus(em: EntityManager, now: Date, orderId: string, status: CustomerOrderStatus, { paid = false } = {}): Promise<OrderRow> {
    const [order] = await sql<OrderRow>(
      em,
      'UPDATE customer_order SET status = ?, hold_expires_at = NULL, updated_at = ?, paid_at = coalesce(?, paid_at) WHERE id = ? RETURNING *',
      [status, now, paid ? now : null, orderId],
    );
    return order!;
  }
}

type LockedOrderRow = SessionTimes & LockedOrder & { hubId: string; customerRef: string; order: OrderRow };

/**
 * An order with its session's times, locked as every change of an order locks them, in one round
 * trip: the session shared (as checkout does), then the order exclusive. Only an order within the
 * caller's `scope` is locked (`{}`: any): another hub's order is refused (`refused()`) without
 * being locked, so a caller it is not shown never makes its own hub's writers wait.
 */
async function lockOrder(
  em: EntityManager,
  orderId: string,
  { scope = {}, field = 'customerOrderId', refused = () => orderNotFound(orderId, field) }: { scope?: OrderScope | null; field?: string; refused?: () => DomainError } = {},
): Promise<LockedOrderRow> {
  const [row] = scope === null ? [] : await sql<LockedOrderRow>(
    em,
    `SELECT s.opens_at AS "opensAt", s.closes_at AS "closesAt", s.closed_at AS "closedAt", s.completed_at AS "completedAt",
            s.cancelled_at AS "cancelledAt", s.close_announced_at AS "closeAnnouncedAt", o.hub_id AS "hubId", o.customer_ref AS "customerRef", o.status,
            o.hold_expires_at AS "holdExpiresAt", row_to_json(o) AS "order"
       FROM sales_session s JOIN customer_order o ON o.sales_session_id = s.id
      WHERE o.id = ? AND (?::uuid IS NULL OR o.hub_id = ?::uuid) AND (?::text IS NULL OR o.customer_ref = ?)
        FOR KEY SHARE OF s FOR UPDATE OF o`,
    [orderId, scope.hubId ?? null, scope.hubId ?? null, scope.customerRef ?? null, scope.customerRef ?? null],
  );
  if (row) return row;
  const [exists] = await sql(em, 'SELECT 1 FROM customer_order WHERE id = ?', [orderId]);
  throw exists ? refused() : orderNotFound(orderId, field);
}

type OrderScope = NonNullable<ReturnType<typeof customerOrderScope>>;

/** The orders an actor moves on for their hub (payment results, extensions): a hub its own, the operator any. */
function hubScope(actor: Actor): OrderScope | null {
  return actor.kind === 'customer' ? null : customerOrderScope(actor);
}

function orderNotFound(id: string, field = 'customerOrderId'): DomainError {
  return DomainError.of(UserErrorCode.NOT_FOUND, `no customer order with id "${id}"`, [field]);
}

function holdExpired(): DomainError {
  return DomainError.of(UserErrorCode.HOLD_EXPIRED, 'the hold expired before the payment result arrived; the stock was released', ['customerOrderId']);
}

function invalidState(status: CustomerOrderStatus, event: OrderEvent): DomainError {
  const what = { PAYMENT_SUCCEEDED: 'confirm payment for', PAYMENT_FAILED: 'fail payment for', CANCELLED: 'cancel', HOLD_LAPSED: 'expire' }[event];
  return DomainError.of(UserErrorCode.INVALID_STATE, `cannot ${what} an order that is ${status}`, ['customerOrderId']);
}
