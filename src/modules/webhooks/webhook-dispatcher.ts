import { setMaxListeners } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import type { Clock } from '../../shared/clock.js';
import { coalesced } from '../../shared/coalesced.js';
import { sql } from '../../shared/sql.js';
import { literalRefusal, type Resolver, systemResolver, webhookLookup, webhookUrlProblem } from './webhook-address.js';
import { SIGNATURE_HEADER, signatureHeader } from './webhook-signature.js';

/** What a delivery in flight counts against (DispatcherOptions.perReceiver). */
interface Share {
  /** The receiver: its URL's host and port, as the request reads them (receiverOf()). */
  host: string;
  /** The webhook's scope: its hub, else its producer, else '' (the operator's). */
  scope: string;
}

interface ClaimedDelivery extends Share {
  id: string;
  webhookId: string;
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
  /** Deliveries this process sends at once, to all receivers together. */
  concurrency?: number;
  /**
   * Of those, to one receiver (the URL's host) and for one scope (a producer's, a hub's or the
   * operator's webhooks): a receiver that hangs holds this many however many webhooks name it,
   * and an enterprise's webhooks this many however many receivers they name. The others go on.
   */
  perReceiver?: number;
  /** How long a kept-alive connection to a receiver may sit idle before it is closed. */
  idleSocketMs?: number;
  /** Production: send only over TLS, as registration requires (private receivers the operator allowed excepted). */
  requireHttps?: boolean;
  /** WEBHOOK_ALLOW_PRIVATE_ADDRESSES: send to loopback and private addresses too (pilots, tests). */
  allowPrivateAddresses?: boolean;
  /** How receivers' names are resolved; the system resolver unless one is injected. */
  resolve?: Resolver;
}

/**
 * Kept-alive connections are reused for a receiver's next deliveries, but not kept forever: without
 * a limit, every receiver that ever answered holds a socket open for as long as it allows.
 */
const IDLE_SOCKET_MS = 30_000;

/** The most of a receiver's answer read (and dropped) before its connection is closed. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** Each retry waits up to this fraction longer, at random, so failed deliveries do not come due in step. */
const JITTER = 0.2;
/**
 * The attempts a delivery keeps, its newest: an endpoint that fails for months would otherwise
 * leave a row an hour for each of its held-up deliveries, forever. `attemptCount` still counts all.
 */
export const KEPT_ATTEMPTS = 20;

/**
 * Sends queued webhook deliveries: at least once, in order per producer order, retried with
 * exponential backoff while the receiver fails. Everything is in PostgreSQL, so a restart resumes
 * where it stopped, and replicas share the work (SKIP LOCKED claims with a lease).
 *
 * It runs on its own: wake() claims what is due for the free slots and returns; each send runs by
 * itself and wakes it again when done (its successor in the producer order may now be due). So
 * nothing waits for a receiver but the slot it holds: not the scheduler, not other receivers.
 */
export class WebhookDispatcher {
  private readonly pump = coalesced(
    () => this.claimAndSend(),
    (error) => this.logger.error({ err: error }, 'webhook dispatcher failed'),
  );
  /** Sends under way, with the receiver and scope each counts against. */
  private readonly inFlight = new Map<Promise<void>, Share>();
  private readonly stopping = new AbortController();
  private stopped = false;
  private readonly lookup: LookupFunction;
  // Kept-alive connections were each opened to an address checked when they connected.
  private readonly agents: { 'http:': http.Agent; 'https:': https.Agent };

  constructor(
    private readonly orm: MikroORM,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: DispatcherOptions = {},
  ) {
    this.lookup = webhookLookup(options.resolve ?? systemResolver, options.allowPrivateAddresses ?? false);
    // Each send listens for stop() while under way: up to `concurrency` listeners, which is no leak
    // (Node warns of one past 10).
    setMaxListeners(this.concurrency, this.stopping.signal);
    // `timeout` is how long a free socket may idle; a receiver's shorter Keep-Alive hint wins.
    const agentOptions = { keepAlive: true, timeout: options.idleSocketMs ?? IDLE_SOCKET_MS };
    this.agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };
  }

  /** Starts sending what is due now, without waiting for it. Never throws. */
  wake(): void {
    if (!this.stopped) void this.pump.run();
  }

  /** Sends what is due now, and waits until no send is under way and nothing more is due. */
  async run(): Promise<void> {
    this.wake();
    await this.idle();
  }

  /** Resolves once no claim or send is under way. */
  async idle(): Promise<void> {
    for (;;) {
      await this.pump.idle();
      if (this.inFlight.size === 0) return;
      // A finished send wakes the pump, which may claim the next: look again after them.
      await Promise.all(this.inFlight.keys());
    }
  }

  /**
   * Claims nothing more, cuts short the requests under way (each is recorded as a failed attempt
   * and retried later, here or by another replica) and waits for their records to be written.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort(new Error('the server stopped before the receiver answered'));
    await this.idle();
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  /** One claim for the free slots; bounded, so a drain never runs on while receivers hang. */
  private async claimAndSend(): Promise<void> {
    const free = this.concurrency - this.inFlight.size;
    if (this.stopped || free <= 0) return;
    let claimed: ClaimedDelivery[];
    try {
      claimed = await this.claim(free);
    } catch (error) {
      // Nothing was claimed (the transaction rolled back): the next wake or tick tries again.
      this.logger.error({ err: error }, 'could not claim webhook deliveries; will retry');
      return;
    }
    for (const delivery of claimed) {
      const sending: Promise<void> = this.send(delivery).finally(() => {
        this.inFlight.delete(sending);
        this.wake();
      });
      this.inFlight.set(sending, { host: delivery.host, scope: delivery.scope });
    }
  }

  private get concurrency(): number {
    return this.options.concurrency ?? 16;
  }

  /**
   * The next due delivery of each ordering key of active webhooks, reserved for this replica for
   * the lease time: at most `free`, and at most `perReceiver` in flight to one receiver and for
   * one scope (takeTurns()).
   */
  private claim(free: number): Promise<ClaimedDelivery[]> {
    const perReceiver = this.options.perReceiver ?? 4;
    const busy = { host: new Map<string, number>(), scope: new Map<string, number>() };
    for (const share of this.inFlight.values()) {
      for (const key of ['host', 'scope'] as const) busy[key].set(share[key], (busy[key].get(share[key]) ?? 0) + 1);
    }
    const now = this.clock.now();
    return this.orm.em.fork().transactional(async (em) => {
      // Each active webhook's due heads, oldest first, no more than its scope's room: an ordered
      // walk of its pending deliveries that stops there, however long the backlog; and each row is
      // locked as the walk reaches it, so PostgreSQL checks it again as it is then (another replica
      // may have claimed it, or tried it and put its next attempt off). Those not taken are let go
      // as the transaction ends.
      const due = await sql<{ id: string; url: string; scope: string }>(
        em,
        `SELECT c.id, w.url, r.scope FROM webhook w
          CROSS JOIN LATERAL (SELECT coalesce(w.hub_id::text, w.producer_id::text, '') AS scope) r
           LEFT JOIN jsonb_each_text(?::jsonb) AS b(scope, n) ON b.scope = r.scope
          CROSS JOIN LATERAL (
            SELECT d.id FROM webhook_delivery d
             WHERE d.webhook_id = w.id AND d.status = 'PENDING' AND d.next_attempt_at <= ?
               AND (d.claimed_until IS NULL OR d.claimed_until < clock_timestamp())
               AND NOT EXISTS (SELECT 1 FROM webhook_delivery e
                                WHERE e.webhook_id = d.webhook_id AND e.ordering_key = d.ordering_key
                                  AND e.status = 'PENDING' AND e.id < d.id)
             ORDER BY d.id LIMIT greatest(? - coalesce(b.n::int, 0), 0)
               FOR UPDATE SKIP LOCKED) c
          -- A removed webhook is sent nothing more, even a delivery queued as it was removed.
          WHERE w.active
          ORDER BY c.id`,
        [JSON.stringify(Object.fromEntries(busy.scope)), now, perReceiver],
      );
      const taken = takeTurns(
        due.map((d) => ({ id: d.id, host: receiverOf(d.url), scope: d.scope })),
        busy,
        perReceiver,
        free,
      );
      if (taken.length === 0) return [];
      const claimed = await sql<Omit<ClaimedDelivery, keyof Share>>(
        em,
        `UPDATE webhook_delivery d
            SET claimed_until = clock_timestamp() + make_interval(secs => ?), attempt_count = d.attempt_count + 1
           FROM webhook w
          WHERE d.id = ANY(?::bigint[]) AND w.id = d.webhook_id
        RETURNING d.id, d.webhook_id AS "webhookId", d.body, d.event_position::text AS "eventPosition",
                  d.attempt_count AS "attemptCount", w.url, w.secret`,
        [this.options.leaseSeconds ?? 30, `{${taken.map((t) => t.id).join(',')}}`],
      );
      const shares = new Map(taken.map(({ id, host, scope }) => [id, { host, scope }]));
      return claimed.map((delivery) => ({ ...delivery, ...shares.get(delivery.id)! }));
    });
  }

  /** One attempt, then its record. Never rejects: a failure to record leaves the delivery to retry. */
  private async send(delivery: ClaimedDelivery): Promise<void> {
    const at = this.clock.now();
    let statusCode: number | undefined;
    let error: string | undefined;
    const timeoutMs = this.options.requestTimeoutMs ?? 10_000;
    // One controller per attempt, cut off by the timeout or by stop(). Not AbortSignal.any() over
    // the process-long stop signal: on Node 20 every such call leaves a record on it for good.
    const attempt = new AbortController();
    const onStop = () => attempt.abort(this.stopping.signal.reason);
    // A listener added to a signal already aborted never runs: a send claimed as stop() began is cut at once.
    if (this.stopping.signal.aborted) onStop();
    else this.stopping.signal.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => attempt.abort(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs).unref();
    try {
      statusCode = await this.post(delivery, at, attempt.signal);
      if (statusCode < 200 || statusCode > 299) error = `receiver answered ${statusCode}`;
    } catch (e) {
      const reason: unknown = attempt.signal.aborted ? attempt.signal.reason : e;
      error = reason instanceof Error ? reason.message : String(reason);
    } finally {
      clearTimeout(timer);
      this.stopping.signal.removeEventListener('abort', onStop);
    }

    // Counted from the end of the attempt: a receiver that takes the whole timeout to fail still
    // gets the full pause before the next try, instead of retries back to back.
    const ended = this.clock.now();
    const retryAt = new Date(ended.getTime() + this.retryDelayMs(delivery.attemptCount));
    const log = { webhook: delivery.webhookId, delivery: delivery.id };
    try {
      await this.record(delivery, { at, ended, statusCode, error, retryAt });
    } catch (recordError) {
      // The receiver may have it, but without a record it is sent again: at least once.
      this.logger.error({ ...log, err: recordError }, 'could not record a webhook attempt; will retry the delivery');
      await this.release(delivery, retryAt).catch((releaseError: unknown) =>
        // Left claimed: it is retried once the lease lapses.
        this.logger.error({ ...log, err: releaseError }, 'could not release a webhook delivery; retried after its lease'),
      );
      return;
    }
    if (error !== undefined) this.logger.info({ ...log, error, retryAt }, 'webhook delivery failed; will retry');
  }

  /**
   * POSTs the delivery and resolves with the status of the answer. Redirects are answers like any
   * other (node:http never follows them): following one would send the event, and the request,
   * wherever the receiver points, past the address checks.
   */
  private post(delivery: ClaimedDelivery, at: Date, signal: AbortSignal): Promise<number> {
    const url = new URL(delivery.url);
    const refused = this.options.allowPrivateAddresses ? undefined : literalRefusal(url);
    if (refused) return Promise.reject(refused);
    // Registration's rule, checked again: a webhook stored before it (or before production) is
    // not sent events in clear.
    const insecure = this.options.requireHttps
      ? webhookUrlProblem(url, { allowPrivateAddresses: this.options.allowPrivateAddresses ?? false, requireHttps: true })
      : undefined;
    if (insecure) return Promise.reject(new Error(`refused: the URL ${insecure}`));
    const body = Buffer.from(delivery.body);
    return new Promise<number>((resolve, reject) => {
      const request = (url.protocol === 'https:' ? https : http).request(url, {
        method: 'POST',
        agent: url.protocol === 'https:' ? this.agents['https:'] : this.agents['http:'],
        lookup: this.lookup,
        signal,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          'user-agent': 'foodhub-wholesale-webhooks',
          [SIGNATURE_HEADER]: signatureHeader(delivery.secret, delivery.body, at),
          'x-foodhub-event-id': delivery.eventPosition,
          'x-foodhub-delivery-id': delivery.id,
        },
      });
      request.on('response', (response) => {
        // Only the status matters. What the receiver says after it is read and dropped, but within
        // the attempt's time (the signal still runs) and at most MAX_ANSWER_BYTES: a receiver that
        // never finishes its answer would otherwise keep the connection, one more per delivery.
        // The attempt ends with the answer: read to its end, broken off or cut at the limit, it
        // is the status; cut by the timeout, the attempt failed (the request's error comes first).
        const status = response.statusCode ?? 0;
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) response.destroy();
        });
        response.on('error', () => undefined);
        response.on('close', () => resolve(status));
      });
      request.on('error', reject);
      request.end(body);
    });
  }

  private record(
    delivery: ClaimedDelivery,
    attempt: { at: Date; ended: Date; statusCode: number | undefined; error: string | undefined; retryAt: Date },
  ): Promise<void> {
    return this.orm.em.fork().transactional(async (em) => {
      const delivered = attempt.error === undefined;
      // No row: the webhook was removed meanwhile and its delivery dropped, or (a failure) this
      // claim's lease lapsed and another replica claimed the delivery again (its attempt count
      // moved on): clearing that claim would let a third send go out beside that replica's.
      const [row] = await sql(
        em,
        delivered
          ? "UPDATE webhook_delivery SET status = 'DELIVERED', delivered_at = ?, claimed_until = NULL WHERE id = ? RETURNING id"
          : "UPDATE webhook_delivery SET next_attempt_at = ?, claimed_until = NULL WHERE id = ? AND status = 'PENDING' AND attempt_count = ? RETURNING id",
        delivered ? [attempt.ended, delivery.id] : [attempt.retryAt, delivery.id, delivery.attemptCount],
      );
      if (!row) return;
      await sql(em, 'INSERT INTO webhook_attempt (delivery_id, attempted_at, status_code, error) VALUES (?, ?, ?, ?)', [
        delivery.id,
        attempt.at,
        attempt.statusCode ?? null,
        attempt.error?.slice(0, 500) ?? null,
      ]);
      if (delivery.attemptCount > KEPT_ATTEMPTS) {
        await sql(
          em,
          'DELETE FROM webhook_attempt WHERE delivery_id = ? AND id < (SELECT id FROM webhook_attempt WHERE delivery_id = ? ORDER BY id DESC OFFSET ? LIMIT 1)',
          [delivery.id, delivery.id, KEPT_ATTEMPTS - 1],
        );
      }
    });
  }

  /** Frees this claim without a record (not a later one), so the delivery is retried at `retryAt` rather than after the lease. */
  private async release(delivery: ClaimedDelivery, retryAt: Date): Promise<void> {
    await sql(
      this.orm.em.fork(),
      "UPDATE webhook_delivery SET next_attempt_at = ?, claimed_until = NULL WHERE id = ? AND status = 'PENDING' AND attempt_count = ?",
      [retryAt, delivery.id, delivery.attemptCount],
    );
  }

  /** 1 s, 2 s, 4 s … up to the maximum, each up to a fifth longer at random. */
  private retryDelayMs(attemptCount: number): number {
    const base = Math.min(2 ** (attemptCount - 1), this.options.maxBackoffSeconds ?? 3600) * 1000;
    return Math.round(base * (1 + JITTER * Math.random()));
  }
}

/**
 * A webhook's receiver: the host and port its requests go to, however its URL spells them (the
 * URL parser lowers the case; a name's closing dot, a scheme's own port left out, and an IPv4
 * address written as IPv6 (`[::ffff:…]`, which the address checks read as IPv4) change none of
 * them). `http://x` and `https://x` are two receivers: two ports.
 */
export function receiverOf(url: string): string {
  try {
    const { hostname, port, protocol } = new URL(url);
    const literal = hostname.replace(/^\[(.*)\]$/, '$1');
    const host = ipaddr.isValid(literal) ? ipaddr.process(literal).toString() : hostname.replace(/\.$/, '');
    return `${host}:${port || (protocol === 'https:' ? '443' : '80')}`;
  } catch {
    return url; // not sent anyway (post() refuses it): a share of its own
  }
}

/**
 * Which due deliveries to send now (`due` oldest first, the ids as text), at most `free`, none to
 * a receiver or for a scope that already has `cap` in flight (`busy`, counted on as they are
 * taken). Receivers and scopes take turns: each step takes the oldest of those whose receiver and
 * scope have the fewest in flight, so each one's oldest due delivery goes before any one's second,
 * a backlog at one does not go ahead of another's first, and one held back by a cap takes no turn
 * from the others. `free` is at most the process's concurrency: a few passes over `due`.
 */
function takeTurns<T extends Share & { id: string }>(
  due: readonly T[],
  busy: { host: ReadonlyMap<string, number>; scope: ReadonlyMap<string, number> },
  cap: number,
  free: number,
): T[] {
  const count = { host: new Map(busy.host), scope: new Map(busy.scope) };
  const load = (d: T) => Math.max(count.host.get(d.host) ?? 0, count.scope.get(d.scope) ?? 0);
  const waiting = [...due];
  const taken: T[] = [];
  while (taken.length < free) {
    let next = -1;
    for (let i = 0; i < waiting.length; i += 1) {
      const d = waiting[i]!;
      if ((count.host.get(d.host) ?? 0) >= cap || (count.scope.get(d.scope) ?? 0) >= cap) continue;
      if (next < 0 || load(d) < load(waiting[next]!)) next = i;
    }
    if (next < 0) break;
    const [d] = waiting.splice(next, 1) as [T];
    count.host.set(d.host, (count.host.get(d.host) ?? 0) + 1);
    count.scope.set(d.scope, (count.scope.get(d.scope) ?? 0) + 1);
    taken.push(d);
  }
  return taken;
}
