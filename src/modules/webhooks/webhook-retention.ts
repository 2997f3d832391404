import type { RequestContext } from '../../shared/request-context.js';
import { sql } from '../../shared/sql.js';

/**
 * Drops what is still pending for removed webhooks, with its attempts. removeWebhook drops it in
 * its own transaction, but the relay may queue a delivery for the webhook from a snapshot taken
 * just before the removal committed. Such a delivery is never sent (the claim skips inactive
 * webhooks), and left pending it would also keep its event from ever being pruned.
 */
export async function dropRemovedWebhookDeliveries(ctx: RequestContext): Promise<number> {
  return ctx.em.transactional(async (em) => {
    await sql(
      em,
      `DELETE FROM webhook_attempt a USING webhook_delivery d, webhook w
        WHERE a.delivery_id = d.id AND d.webhook_id = w.id AND NOT w.active AND d.status = 'PENDING'`,
    );
    const dropped = await sql(
      em,
      `DELETE FROM webhook_delivery d USING webhook w
        WHERE d.webhook_id = w.id AND NOT w.active AND d.status = 'PENDING'
        RETURNING d.id`,
    );
    return dropped.length;
  });
}
