import type { EntityManager } from '@mikro-orm/postgresql';
import { appendEvents, EventKind } from '../../events/event-log.js';
import { doEachDue, type DueOutcome } from '../../scheduler/each-due.js';
import type { RequestContext } from '../../shared/request-context.js';
import { sql } from '../../shared/sql.js';
import { lockLevels } from '../stock/level-locks.js';

/**
 * A session that stops selling tells its storefronts: one SESSION_CLOSED event for each offer it
 * has on sale, which availabilityChanged delivers as 0 and after which it sends that offer nothing
 * more. A close before `closesAt` (closeSalesSession, or cancelSalesSession while it still sold)
 * tells them at once; a close at `closesAt` is told by the scheduler within a tick
 * (announceScheduledCloses()): a storefront knows the time it read, not one the hub has moved
 * since. Either way once (`close_announced_at`), the session being locked FOR UPDATE.
 *
 * With `lockLevels` (the default), first locks the levels of every product the session offers,
 * withdrawn ones too, in one statement: a cancel then releases what its orders hold (lines of a
 * withdrawn offer among them) without locking a level out of the order every writer takes them
 * in. Call it then before anything else in the transaction locks levels.
 */
export async function appendSessionClosedEvents(em: EntityManager, at: Date, salesSessionId: string, options: { lockLevels?: boolean } = {}): Promise<void> {
  const offers = await sql<{ productId: string; withdrawn: boolean }>(
    em,
    'SELECT product_id AS "productId", withdrawn_at IS NOT NULL AS withdrawn FROM offer WHERE sales_session_id = ?',
    [salesSessionId],
  );
  if (options.lockLevels ?? true) await lockLevels(em, offers.map((o) => o.productId));
  const onSale = offers.filter((o) => !o.withdrawn);
  await appendEvents(em, at, onSale.map(({ productId }) => ({ kind: EventKind.SESSION_CLOSED, productId, salesSessionId, quantity: '0' })));
  await sql(em, 'UPDATE sales_session SET close_announced_at = ? WHERE id = ?', [at, salesSessionId]);
}

/**
 * The scheduler's part: tells the storefronts of every session whose `closesAt` has passed, and
 * that nobody has told yet, that it stopped selling. Nothing else is written, and no stock level
 * locked: the session's completion, which may wait for payments, is another job.
 */
export async function announceScheduledCloses(ctx: RequestContext, limit = 100): Promise<DueOutcome> {
  const now = ctx.clock.now();
  const due = await sql<{ id: string }>(
    ctx.em,
    'SELECT id FROM sales_session WHERE close_announced_at IS NULL AND closes_at <= ? ORDER BY closes_at LIMIT ?',
    [now, limit],
  );
  return doEachDue(ctx, due.map(({ id }) => ({ id, productIds: [] })), async (em, id) => {
    // Locked as a close or a cancel locks it: whichever comes first tells, the other finds it told.
    const [untold] = await sql(em, 'SELECT 1 FROM sales_session WHERE id = ? AND close_announced_at IS NULL AND closes_at <= ? FOR UPDATE', [id, now]);
    if (!untold) return false;
    await appendSessionClosedEvents(em, now, id, { lockLevels: false });
    return true;
  });
}
