import type { EntityManager } from '@mikro-orm/postgresql';
import { appendEvents, EventKind } from '../../events/event-log.js';
import { sql } from '../../shared/sql.js';
import { lockLevels } from '../stock/level-locks.js';

/**
 * A session that stops selling before its `closesAt` (closeSalesSession, or cancelSalesSession
 * while it still sold) tells its storefronts: one SESSION_CLOSED event for each offer it has on
 * sale, which availabilityChanged delivers as 0 and after which it sends that offer nothing more.
 * A close at `closesAt` sends none: storefronts know the time (SalesSession.closesAt).
 *
 * Locks the levels of every product the session offers, withdrawn ones too, in one statement:
 * a cancel then releases what its orders hold (lines of a withdrawn offer among them) without
 * locking a level out of the order every writer takes them in. Call it before anything else in
 * the transaction locks levels.
 */
export async function appendSessionClosedEvents(em: EntityManager, at: Date, salesSessionId: string): Promise<void> {
  const offers = await sql<{ productId: string; withdrawn: boolean }>(
    em,
    'SELECT product_id AS "productId", withdrawn_at IS NOT NULL AS withdrawn FROM offer WHERE sales_session_id = ?',
    [salesSessionId],
  );
  await lockLevels(em, offers.map((o) => o.productId));
  const onSale = offers.filter((o) => !o.withdrawn);
  await appendEvents(em, at, onSale.map(({ productId }) => ({ kind: EventKind.SESSION_CLOSED, productId, salesSessionId, quantity: '0' })));
}
