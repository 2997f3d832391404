import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import { coalesced } from '../../shared/coalesced.js';
import { sql } from '../../shared/sql.js';
import { SIGNATURE_HEADER, signatureHeader } from './webhook-signature.js';

interface ClaimedDelivery {
  id: string;
  body: string;
  eventPosition: string;
  attemptCount: number;
  url: string;
  secret: string;
}

export interface DispatcherOptions {
  /** How long a claimed delivery is reserved for this replica before another may retry it. */
  leaseSeconds?: number;
  requestTimeoutMs?: number;
  maxBackoffSeconds?: number;
}

/**
 * Sends queued webhook deliveries: at least once, in order per producer order, retried with
 * exponential backoff while the receiver fails. Everything is in PostgreSQL, so a restart resumes
 * where it stopped, and replicas share the work (SKIP LOCKED claims with a lease).
 */
export class WebhookDispatcher {
  private readonly runner = coalesced(() => this.drain());
  private stopped = false;

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: DispatcherOptions = {},
  ) {}

  /** Sends what is due now; returns when nothing due is left. */
  run(): Promise<void> {
    return this.stopped ? Promise.resolve() : this.runner.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.runner.idle();
  }

  private async drain(): Promise<void> {
    while (!this.stopped) {
      const claimed = await this.claim();
      if (claimed.length === 0) return;
      // Each claimed delivery is the oldest pending one of its producer order, so they are independent.
      await Promise.all(claimed.map((delivery) => this.send(delivery)));
    }
  }

  /** The next due delivery of each ordering key, reserved for this replica for the lease time. */
  private claim(): Promise<ClaimedDelivery[]> {
    const now = this.clock.now();
    return this.orm.em.fork().transactional((em) =>
      sql<ClaimedDelivery>(
        em,
        `WITH due AS (
           SELECT d.id FROM webhook_delivery d
            WHERE d.status = 'PENDING' AND d.next_attempt_at <= ?
              AND (d.claimed_until IS NULL OR d.claimed_until < clock_timestamp())
              AND NOT EXISTS (SELECT 1 FROM webhook_delivery e
                               WHERE e.webhook_id = d.webhook_id AND e.ordering_key = d.ordering_key
                                 AND e.status = 'PENDING' AND e.id < d.id)
            ORDER BY d.id LIMIT 20
              FOR UPDATE OF d SKIP LOCKED)
         UPDATE webhook_delivery d
            SET claimed_until = clock_timestamp() + make_interval(secs => ?), attempt_count = d.attempt_count + 1
           FROM due, webhook w
          WHERE d.id = due.id AND w.id = d.webhook_id
        RETURNING d.id, d.body, d.event_position::text AS "eventPosition", d.attempt_count AS "attemptCount", w.url, w.secret`,
        [now, this.options.leaseSeconds ?? 30],
      ),
    );
  }

  private async send(delivery: ClaimedDelivery): Promise<void> {
    const at = this.clock.now();
    let statusCode: number | undefined;
    let error: string | undefined;
    try {
      const response = await fetch(delivery.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'foodhub-wholesale-webhooks',
          [SIGNATURE_HEADER]: signatureHeader(delivery.secret, delivery.body, at),
          'x-foodhub-event-id': delivery.eventPosition,
          'x-foodhub-delivery-id': delivery.id,
        },
        body: delivery.body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000),
      });
      statusCode = response.status;
      await response.body?.cancel();
      if (!response.ok) error = `receiver answered ${response.status}`;
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }

    const delivered = error === undefined;
    const retryIn = Math.min(2 ** (delivery.attemptCount - 1), this.options.maxBackoffSeconds ?? 3600);
    await this.orm.em.fork().transactional(async (em) => {
      await sql(
        em,
        'INSERT INTO webhook_attempt (delivery_id, attempted_at, status_code, error) VALUES (?, ?, ?, ?)',
        [delivery.id, at, statusCode ?? null, error?.slice(0, 500) ?? null],
      );
      await sql(
        em,
        delivered
          ? "UPDATE webhook_delivery SET status = 'DELIVERED', delivered_at = ?, claimed_until = NULL WHERE id = ?"
          : 'UPDATE webhook_delivery SET next_attempt_at = ?::timestamptz + make_interval(secs => ?), claimed_until = NULL WHERE id = ?',
        delivered ? [at, delivery.id] : [at, retryIn, delivery.id],
      );
    });
    if (!delivered) this.logger.info({ delivery: delivery.id, error, retryIn }, 'webhook delivery failed; will retry');
  }
}
