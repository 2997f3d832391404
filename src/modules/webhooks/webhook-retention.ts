import type { EntityManager } from '@mikro-orm/postgresql';
import type { RequestContext } from '../../shared/request-context.js';
import { sql } from '../../shared/sql.js';

/**
 * Drops what is still pending for removed webhooks, with its attempts. removeWebhook drops it in
 * its own transaction, but the relay may queue a delivery for the webhook from a snapshot taken
 * just before the removal committed. Such a delivery is never sent (the claim skips inactive
 * webhooks), and left pending it would also keep its event from ever being pruned.
 */
export function dropRemovedWebhookDeliveries(ctx: RequestContext): Promise<number> {
  return ctx.em.transactional((em) => dropPendingDeliveries(em));
}

/**
 * Deletes the pending deliveries of one webhook (or of every removed one), then their attempts.
 * The deliveries first: one whose attempt is being recorded is locked by that record, so the
 * delete waits for it, and the next statement (a new snapshot) sees its attempt to delete.
 */
export async function dropPendingDeliveries(em: EntityManager, webhookId?: string): Promise<number> {
  const dropped = await sql<{ id: string }>(
    em,
    `DELETE FROM webhook_delivery d USING webhook w
      WHERE d.webhook_id = w.id AND d.status = 'PENDING' AND ${webhookId ? 'w.id = ?' : 'NOT w.active'}
      RETURNING d.id`,
    webhookId ? [webhookId] : [],
  );
  if (dropped.length > 0) {
    await sql(em, 'DELETE FROM webhook_attempt WHERE delivery_id = ANY(?::bigint[])', [`{${dropped.map((d) => d.id).join(',')}}`]);
  }
  return dropped.length;
}
