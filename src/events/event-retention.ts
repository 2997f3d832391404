import type { Duration } from 'luxon';
import type { RequestContext } from '../shared/request-context.js';
import { sql } from '../shared/sql.js';

/**
 * Forgets events older than the retention period, and the delivery history with them. An event a
 * webhook has not yet received is kept whatever its age: delivery is at least once. So is the
 * newest event, which the next positions count on.
 */
export async function pruneEvents(ctx: RequestContext, retention: Duration): Promise<number> {
  const cutoff = new Date(ctx.clock.now().getTime() - retention.toMillis());
  return ctx.em.transactional(async (em) => {
    await sql(
      em,
      `DELETE FROM webhook_attempt a USING webhook_delivery d
        WHERE a.delivery_id = d.id AND d.status = 'DELIVERED' AND d.created_at < ?`,
      [cutoff],
    );
    await sql(em, "DELETE FROM webhook_delivery WHERE status = 'DELIVERED' AND created_at < ?", [cutoff]);
    const deleted = await sql<{ position: string }>(
      em,
      `DELETE FROM domain_event e
        WHERE e.position IS NOT NULL AND e.created_at < ?
          -- The newest event stays: positions continue from it, so ids never restart at 1 after a
          -- quiet spell and clients resuming with after: or dropping repeats by id miss nothing.
          AND e.position < (SELECT max(position) FROM domain_event)
          AND NOT EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.event_position = e.position AND d.status = 'PENDING')
        RETURNING e.position`,
      [cutoff],
    );
    return deleted.length;
  });
}
