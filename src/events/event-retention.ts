import type { Duration } from 'luxon';
import type { RequestContext } from '../shared/request-context.js';
import { deleteInBatches } from '../shared/batched-delete.js';

/**
 * Forgets events older than the retention period, and the delivery history with them. An event a
 * webhook has not yet received is kept whatever its age: delivery is at least once. So is the
 * newest event, which the next positions count on. How far it has forgotten is kept, in all and
 * for each owner and kind (PrunedEvents, PrunedEventMark).
 */
export async function pruneEvents(ctx: RequestContext, retention: Duration): Promise<number> {
  const cutoff = new Date(ctx.clock.now().getTime() - retention.toMillis());
  // In batches, each committing on its own (deleteInBatches); the attempts before their deliveries.
  await deleteInBatches(
    ctx.em,
    'webhook_attempt',
    `SELECT a.ctid FROM webhook_attempt a JOIN webhook_delivery d ON d.id = a.delivery_id WHERE d.status = 'DELIVERED' AND d.created_at < ?`,
    [cutoff],
  );
  await deleteInBatches(
    ctx.em,
    'webhook_delivery',
    `SELECT d.ctid FROM webhook_delivery d WHERE d.status = 'DELIVERED' AND d.created_at < ?
        AND NOT EXISTS (SELECT 1 FROM webhook_attempt a WHERE a.delivery_id = d.id)`,
    [cutoff],
  );
  // What it forgets is recorded by the database as it deletes (record_forgotten_events()): a
  // subscription resuming with an earlier `after` is refused from then on (replayStart()).
  return deleteInBatches(
    ctx.em,
    'domain_event',
    `SELECT e.ctid FROM domain_event e
      WHERE e.position IS NOT NULL AND e.created_at < ?
        -- The newest event stays: positions continue from it, so ids never restart at 1 after a
        -- quiet spell and clients resuming with after: or dropping repeats by id miss nothing.
        AND e.position < (SELECT max(position) FROM domain_event)
        AND NOT EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.event_position = e.position AND d.status = 'PENDING')`,
    [cutoff],
  );
}
