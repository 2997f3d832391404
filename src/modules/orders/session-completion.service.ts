import type { EntityManager } from '@mikro-orm/postgresql';
import { doEachDue, type DueItem, type DueOutcome } from '../../scheduler/each-due.js';
import type { RequestContext } from '../../shared/request-context.js';
import { sql, uuidArray } from '../../shared/sql.js';
import type { StockService } from '../stock/stock.service.js';

/**
 * Completes sessions that have closed: every producer order with lines becomes
 * COMPLETE/UNFULFILLED and its held stock becomes committed; one left without lines is CANCELLED.
 * A session waits while any of its orders is still PENDING_PAYMENT (the hold stands until the
 * payment result or the expiry). All state lives in the database, so a server that was down at
 * `closesAt` catches up when it starts, and replicas complete each session exactly once.
 */
export class SessionCompletionService {
  constructor(private readonly stock: StockService) {}

  async completeDueSessions(ctx: RequestContext, limit = 100): Promise<DueOutcome> {
    // With the products its paid orders hold, whose levels its completion locks: sessions of a
    // busy product (another replica completing a session of it) cost the pass one wait.
    const due = await sql<DueItem>(
      ctx.em,
      `SELECT s.id,
              array(SELECT DISTINCT l.product_id FROM customer_order o JOIN customer_order_line l ON l.customer_order_id = o.id
                     WHERE o.sales_session_id = s.id AND o.status = 'CONFIRMED')::text[] AS "productIds"
         FROM sales_session s
        WHERE s.completed_at IS NULL AND (s.closed_at IS NOT NULL OR s.closes_at <= ?)
          AND NOT EXISTS (SELECT 1 FROM customer_order o WHERE o.sales_session_id = s.id AND o.status = 'PENDING_PAYMENT')
        -- In the order they closed: one closed early (closed_at) is as old as that, not its closes_at.
        ORDER BY coalesce(s.closed_at, s.closes_at) LIMIT ?`,
      [ctx.clock.now(), limit],
    );
    return doEachDue(ctx, due, (em, id) => this.complete(em, ctx.clock.now(), id));
  }

  /** Completes one session if it is still due once locked; the statement count does not grow with its orders. */
  private async complete(em: EntityManager, now: Date, sessionId: string): Promise<boolean> {
    // FOR UPDATE waits for checkouts and releases in flight, and makes a second replica wait here
    // and then find `completed_at` set: the re-check below makes completion happen once.
    const [session] = await sql<{ id: string }>(
      em,
      `SELECT id FROM sales_session
        WHERE id = ? AND completed_at IS NULL AND (closed_at IS NOT NULL OR closes_at <= ?)
          FOR UPDATE`,
      [sessionId, now],
    );
    if (!session) return false;
    const [pending] = await sql(
      em,
      "SELECT 1 FROM customer_order WHERE sales_session_id = ? AND status = 'PENDING_PAYMENT' LIMIT 1",
      [sessionId],
    );
    if (pending) return false;

    const withLines = await this.stock.commitSession(em, now, sessionId);
    await sql(
      em,
      `UPDATE producer_order
          SET order_state = CASE WHEN id = ANY(?::uuid[]) THEN 'COMPLETE' ELSE 'CANCELLED' END,
              fulfilment_state = CASE WHEN id = ANY(?::uuid[]) THEN 'UNFULFILLED' ELSE 'CANCELLED' END,
              completed_at = ?
        WHERE sales_session_id = ?`,
      [uuidArray(withLines), uuidArray(withLines), now, sessionId],
    );
    await sql(
      em,
      'UPDATE sales_session SET completed_at = ?, closed_at = coalesce(closed_at, closes_at) WHERE id = ?',
      [now, sessionId],
    );
    return true;
  }
}
