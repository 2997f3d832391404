import { DomainError, UserErrorCode } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { sql } from '../../shared/sql.js';
import { releaseSessionCaps } from '../sessions/offer-caps.js';
import { appendSessionClosedEvents } from '../sessions/closing-events.js';
import { lockSession, requireOwnSession } from '../sessions/sales-session.service.js';
import type { SalesSession } from '../sessions/sales-session.entity.js';
import { isNotClosed, sessionStatus } from '../sessions/session-status.js';
import type { StockService } from '../stock/stock.service.js';
import { CustomerOrderStatus, LIVE_CUSTOMER_ORDER_STATUSES } from './order-states.js';

/**
 * Cancels a session with its orders: a hub that opened one by mistake (the wrong week, the wrong
 * offers), or whose delivery fell through, takes it back before its producers work from it.
 * Every live customer order (pending or paid) becomes CANCELLED (EXPIRED if its hold had lapsed)
 * and its stock is back on sale at once, on every hub; its producer orders become CANCELLED; the
 * session sells nothing more, and the scheduler never completes it (it is marked completed with
 * the cancel). Refunding paid orders is the hub's, as for a cancelled order.
 *
 * One transaction, with the session FOR UPDATE, as a close takes it: checkouts, payment results
 * and releases in flight finish first and those after find the session cancelled, so no order
 * escapes. A completed session is refused: its stock is committed and its producers are picking.
 * Cancelling a cancelled session answers with it, as the first request did.
 */
export class SessionCancellationService {
  constructor(
    private readonly stock: StockService,
    /** Told of the lapsed holds a cancel expires, so checkouts refused for their stock try again. */
    private readonly expiries: { countExpiries(count: number): void },
  ) {}

  async cancelSalesSession(ctx: RequestContext, input: { salesSessionId: string }): Promise<SalesSession> {
    await requireOwnSession(ctx, input.salesSessionId);
    return ctx.em.transactional(async (em) => {
      const session = await lockSession(em, input.salesSessionId);
      if (session.cancelledAt) return session;
      if (session.completedAt) {
        throw DomainError.of(UserErrorCode.INVALID_STATE, 'the session is complete: its producers are fulfilling its orders', ['salesSessionId']);
      }
      const now = ctx.clock.now();
      // Locked in the order every writer takes them in: the orders, the capped offers, then the
      // stock levels, last, so that other hubs selling the same products wait only for the commit.
      // A hold that lapsed had expired, whether or not the scheduler had marked it yet (as for a
      // single order's cancel): it stays EXPIRED, and a late payment for it is told so.
      const released = await sql<{ id: string; status: CustomerOrderStatus }>(
        em,
        `UPDATE customer_order
            SET status = CASE WHEN status = ? AND hold_expires_at <= ? THEN ? ELSE ? END, hold_expires_at = NULL, updated_at = ?
          WHERE sales_session_id = ? AND status IN (${LIVE_CUSTOMER_ORDER_STATUSES.map(() => '?').join(', ')})
          RETURNING id, status`,
        [CustomerOrderStatus.PENDING_PAYMENT, now, CustomerOrderStatus.EXPIRED, CustomerOrderStatus.CANCELLED, now, session.id, ...LIVE_CUSTOMER_ORDER_STATUSES],
      );
      await sql(
        em,
        "UPDATE producer_order SET order_state = 'CANCELLED', fulfilment_state = 'CANCELLED', completed_at = ? WHERE sales_session_id = ?",
        [now, session.id],
      );
      // Read before the cancel's own marks: not if it closed, or its storefronts were told it did.
      const stillSelling = isNotClosed(sessionStatus(session, now));
      session.cancelledAt = now;
      // Closed when it was cancelled, or when it closed before that; and with nothing to complete.
      session.closedAt ??= now < session.closesAt ? now : session.closesAt;
      session.completedAt = now;
      await em.flush();
      await releaseSessionCaps(em, session.id);
      // Before the release: it locks the levels of every product the session offers, in order.
      if (stillSelling) await appendSessionClosedEvents(em, now, session.id);
      await this.stock.releaseCustomerOrders(em, now, released.map((o) => o.id));
      this.expiries.countExpiries(released.filter((o) => o.status === CustomerOrderStatus.EXPIRED).length);
      return session;
    });
  }
}
