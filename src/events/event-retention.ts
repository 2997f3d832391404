import type { Duration } from 'luxon';
import type { RequestContext } from '../shared/request-context.js';
import { deleteInBatches } from '../shared/batched-delete.js';

/**
 * Forgets events older than the retention period, and the delivery history with them. An event a
 * webhook has not yet received is kept whatever its age: delivery is at least once. So is the
 * newest event, which the next positions count on. How far it has forgotten is kept, in all and
 * for each owner (PrunedEvents, PrunedEventsByOwner).
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
    // Recorded as they go, in the same statement, for the whole log and for each owner (producer,
    // hub): a subscription of theirs resuming with an earlier `after` is refused from then on
    // (replayStart() in the live resolver).
    {
      returning: 'position, producer_id, hub_id',
      statements: [
        // (SET reads the row as it was: what a previous-version replica forgot since the last
        // pass, through_position beyond attributed_through, becomes everyone's.)
        `UPDATE pruned_events
            SET unattributed_through = CASE WHEN through_position > attributed_through THEN through_position ELSE unattributed_through END,
                through_position = greatest(through_position, (SELECT max(position) FROM gone)),
                attributed_through = greatest(through_position, (SELECT max(position) FROM gone))
          WHERE EXISTS (SELECT 1 FROM gone)`,
        `INSERT INTO pruned_events_by_owner (owner_id, through_position)
         SELECT owner_id, max(position) FROM (SELECT producer_id AS owner_id, position FROM gone
                                              UNION ALL SELECT hub_id, position FROM gone WHERE hub_id IS NOT NULL) owners
          GROUP BY owner_id
         ON CONFLICT (owner_id) DO UPDATE SET through_position = greatest(pruned_events_by_owner.through_position, excluded.through_position)`,
      ],
    },
  );
}
