import type { EntityManager } from '@mikro-orm/postgresql';
import { appendEvents, EventKind } from '../../events/event-log.js';
import { sql } from '../../shared/sql.js';

/**
 * A session that stops selling before its `closesAt` (closeSalesSession, or cancelSalesSession
 * while it still sold) tells its storefronts: one SESSION_CLOSED event for each offer it has on
 * sale, which availabilityChanged delivers as 0 and after which it sends that offer nothing more.
 * A close at `closesAt` sends none: storefronts know the time (SalesSession.closesAt).
 *
 * Locks the offers' products' levels (appendEvents()): call it before anything else locks levels
 * in the transaction, so they are taken in the order every writer takes them.
 */
export async function appendSessionClosedEvents(em: EntityManager, at: Date, salesSessionId: string): Promise<void> {
  const onSale = await sql<{ productId: string }>(
    em,
    'SELECT product_id AS "productId" FROM offer WHERE sales_session_id = ? AND withdrawn_at IS NULL',
    [salesSessionId],
  );
  await appendEvents(em, at, onSale.map(({ productId }) => ({ kind: EventKind.SESSION_CLOSED, productId, salesSessionId, quantity: '0' })));
}
