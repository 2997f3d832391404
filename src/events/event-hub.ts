import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { Logger } from 'pino';
import type { PubSub } from 'type-graphql';
import { TCP_KEEPALIVE } from '../db/tcp-keepalive.js';
import type { Clock } from '../shared/clock.js';
import { coalesced } from '../shared/coalesced.js';
import { instant, preparedSql, sql } from '../shared/sql.js';
import { EventKind, OFFER_KINDS, ON_SALE_KINDS, onEventsCommittedOutsideTransactions, POSITIONED_CHANNEL, replayableRange, type ReplayOwners, wroteEvents } from './event-log.js';

export interface StoredEvent {
  position: string;
  kind: string;
  producerId: string;
  productId: string;
  producerOrderId: string | null;
  customerOrderId: string | null;
  hubId: string | null;
  /** The session of an offer event (OFFER_KINDS). */
  salesSessionId: string | null;
  locationId: string | null;
  lotId: string | null;
  quantity: string;
  available: string;
  /** Whether the change moved `available` (DomainEvent.availableChanged). */
  availableChanged: boolean;
  createdAt: Date;
}

/** A subscription's events, and the position it starts after (`after`, or where live events stood). */
export type OpenedStream = AsyncIterableIterator<StoredEvent> & { readonly start: string };

/** Which events a subscription wants: SQL for the replay, and the same test for live events. */
export interface EventFilter {
  kinds?: readonly string[];
  producerId?: string;
  hubId?: string;
  sessionOffers?: SessionOffersFilter;
}

/**
 * A session's storefront stream: its own offer events, and the changes of the products it has on
 * sale. Which products those are changes with the offer events (an offer added, withdrawn or
 * restored after the subscription began), so the state belongs to one subscription, and is
 * applied in two steps:
 * - as events arrive (matches()), a superset passes: the changes of every product the session
 *   ever offered (`offered`, which only grows, so events arriving in any order may add to it), or
 *   of every product until the session's offers have been read into it;
 * - as they are handed to the client, in position order, replayed and live alike
 *   (admitInOrder()), `onSale` decides: an addition, restore, withdrawal or close changes it, and
 *   a product's change (or its offer's cap change) passes while the product is on sale.
 * `onSale` starts as the offers were just after the stream's start position (offersAsOf()), so
 * a product's changes reach the client exactly while it was on sale in the session.
 */
export interface SessionOffersFilter {
  salesSessionId: string;
  /** Every product the session has offered, withdrawn or not, as read and as offer events add to it. */
  offered: Set<string>;
  /** Whether the session's offers have been read into `offered`: until then, no product is filtered out. */
  offeredRead: boolean;
  /** The products on sale as of the last event handed to the client. */
  onSale: Set<string>;
}

export interface SubscribeRequest {
  filter: EventFilter;
  /** Replay what came after this position first; live events only when absent. */
  after?: string;
}

export class SubscriberTooSlowError extends Error {
  constructor(lastPosition: string) {
    super(`the subscriber fell too far behind and was disconnected; subscribe again with after: "${lastPosition}" to resume`);
    this.name = 'SubscriberTooSlowError';
  }
}

// Positions leave as text (bigint exceeds a JS number), so queries must ORDER BY the column,
// qualified, never the text alias: "100" sorts before "99", which once made a subscriber skip events.
const SELECT_EVENT = `SELECT position::text AS position, kind, producer_id AS "producerId", product_id AS "productId",
  producer_order_id AS "producerOrderId", customer_order_id AS "customerOrderId", hub_id AS "hubId",
  sales_session_id AS "salesSessionId", location_id AS "locationId", lot_id AS "lotId", quantity, available,
  available_changed AS "availableChanged", created_at AS "createdAt" FROM domain_event`;

/** The most events position_pending_events() positions in one call (its `limit`). */
const RELAY_BATCH = 10_000n;

export interface EventHubOptions {
  /** Events a subscriber may have queued before it is cut off (it can resume with `after`). */
  maxBuffered?: number;
  /** How often to look for events anyway, in case a notification was lost (a reconnect). */
  sweepIntervalMs?: number;
  /** Called when positioning queued webhook deliveries, so they can go out at once. */
  onDeliveriesQueued?: () => void;
}

/**
 * Delivers committed events to this process's subscribers, whichever replica caused them.
 *
 * PostgreSQL is the only transport: when a transaction that wrote events commits, its replica's
 * relay gives the new events their positions (one relay at a time, under an advisory lock) and
 * NOTIFYs; every replica LISTENs, reads the positioned events and hands them to its subscribers.
 * A sweep every second positions and reads anything a crash or a lost connection left behind.
 */
export class EventHub implements PubSub {
  private listener: pg.Client | undefined;
  /** A reconnect of the listener is under way: one at a time. */
  private reconnecting = false;
  private lastPosition = '0';
  /** The last position this process's relay gave (or the newest at start). */
  private relayedThrough = '0';
  private readonly subscribers = new Set<Subscriber>();
  private stopped = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  // Both tasks log and swallow their own errors; these only catch what slips past them.
  private readonly relay = coalesced(() => this.positionPendingEvents(), (error) => this.logger.error({ err: error }, 'event relay failed'));
  private readonly fetch = coalesced(() => this.deliverNewEvents(), (error) => this.logger.error({ err: error }, 'event read failed'));

  constructor(
    private readonly orm: MikroORM,
    private readonly databaseUrl: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: EventHubOptions = {},
  ) {}

  async start(): Promise<void> {
    const [row] = await sql<{ max: string | null }>(this.orm.em.fork(), 'SELECT max(position)::text AS max FROM domain_event');
    this.lastPosition = row?.max ?? '0';
    this.relayedThrough = this.lastPosition;
    // Position events the moment a transaction that wrote some commits, in this process. Events
    // whose process died before that are picked up by the sweep of any replica.
    this.orm.em.getEventManager().registerSubscriber({
      afterTransactionCommit: ({ transaction }) => {
        if (wroteEvents(transaction) && !this.stopped) void this.relay.run();
      },
    });
    onEventsCommittedOutsideTransactions(this.orm, () => {
      if (!this.stopped) void this.relay.run();
    });
    await this.listen();
    this.sweepTimer = setInterval(() => this.sweep(), this.options.sweepIntervalMs ?? 1000);
    this.sweepTimer.unref();
    this.sweep();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweepTimer);
    for (const subscriber of this.subscribers) subscriber.close();
    await this.listener?.end().catch(() => undefined);
    await this.relay.idle();
    await this.fetch.idle();
  }

  /** How many subscriptions this process is serving. */
  get subscriberCount(): number {
    return this.subscribers.size;
  }

  /** Events are published by the transactions that record them (see event-log.ts), never from here. */
  publish(): void {
    throw new Error('events are published by PostgreSQL on commit, not through the hub');
  }

  /** type-graphql's PubSub entry point: the "dynamic id" is the subscription's request. */
  subscribe(_topic: string, request?: unknown): AsyncIterable<StoredEvent> {
    return this.open(request as SubscribeRequest);
  }

  open(request: SubscribeRequest): OpenedStream {
    // A live-only subscription starts where this process's live events stand: if it is cut off
    // before its first event, resuming from there replays what it missed, not the whole history.
    const start = request.after ?? this.lastPosition;
    const subscriber = new Subscriber(this, request, start, this.options.maxBuffered ?? 1000, () => this.subscribers.delete(subscriber));
    this.subscribers.add(subscriber);
    return subscriber;
  }

  /** The events a replay may start after: from the newest retention forgot to the newest positioned. */
  replayableRange(owners: ReplayOwners): Promise<{ forgottenThrough: string; newest: string }> {
    return replayableRange(this.orm.em.fork(), owners);
  }

  /** A page of stored events matching `filter` after `position`, for replay. */
  async readAfter(filter: EventFilter, position: string, limit: number): Promise<StoredEvent[]> {
    if (filter.sessionOffers) return this.readSessionOffersAfter(filter.sessionOffers, position, limit);
    const where = ['position > ?::bigint'];
    const params: unknown[] = [position];
    if (filter.kinds) {
      where.push(`kind IN (${filter.kinds.map(() => '?').join(', ')})`);
      params.push(...filter.kinds);
    }
    if (filter.producerId) {
      where.push('producer_id = ?');
      params.push(filter.producerId);
    }
    if (filter.hubId) {
      where.push('hub_id = ?');
      params.push(filter.hubId);
    }
    const rows = await sql<StoredEvent>(this.orm.em.fork(), `${SELECT_EVENT} WHERE ${where.join(' AND ')} ORDER BY domain_event.position LIMIT ?`, [...params, limit]);
    return rows.map(readEvent);
  }

  /**
   * A page of a session's storefront stream (SessionOffersFilter): its own offer events, and the
   * changes of every product it has offered as the page is read (offers are never deleted, and
   * an offer commits before its event is positioned). Two index reads, each answering at most a
   * page: the session's offer events through their partial index, the products' changes through
   * (product_id, position), as the product list did before offers could change (0.2-0.9 ms for a
   * page out of 400,000 events). One WHERE with an OR of the two walked the whole log after
   * `position`, filtering each row. Only offer events name a session.
   */
  private async readSessionOffersAfter({ salesSessionId }: SessionOffersFilter, position: string, limit: number): Promise<StoredEvent[]> {
    const rows = await sql<StoredEvent>(
      this.orm.em.fork(),
      `SELECT * FROM (
         (${SELECT_EVENT} WHERE sales_session_id = ? AND position > ?::bigint ORDER BY domain_event.position LIMIT ?)
         UNION ALL
         (${SELECT_EVENT} WHERE product_id = ANY(ARRAY(SELECT product_id FROM offer WHERE sales_session_id = ?))
             AND position > ?::bigint AND sales_session_id IS NULL AND available_changed ORDER BY domain_event.position LIMIT ?)
       ) page ORDER BY page.position::bigint LIMIT ?`,
      [salesSessionId, position, limit, salesSessionId, position, limit, limit],
    );
    return rows.map(readEvent);
  }

  private sweep(): void {
    if (this.stopped) return;
    void this.relay.run();
    void this.fetch.run();
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'foodhub-events', ...TCP_KEEPALIVE });
    client.on('notification', (message) => {
      if (message.channel === POSITIONED_CHANNEL) this.positioned(message.payload);
    });
    client.on('error', (error) => {
      // Only the listener in service reconnects: a client still being set up fails its listen(),
      // which the reconnect under way retries (a second loop would open a second listener).
      if (client !== this.listener || this.reconnecting) return;
      this.logger.warn({ err: error }, 'event listener connection lost; reconnecting');
      void this.reconnect();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${POSITIONED_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    // Stopped meanwhile (a reconnect racing stop()): stop() ended the listener it saw, not this one.
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
  }

  private async reconnect(): Promise<void> {
    this.reconnecting = true;
    try {
      const old = this.listener;
      this.listener = undefined;
      await old?.end().catch(() => undefined);
      for (let delay = 250; !this.stopped; delay = Math.min(delay * 2, 5000)) {
        try {
          await this.listen();
          this.sweep(); // what was committed while disconnected
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, delay).unref());
        }
      }
    } finally {
      this.reconnecting = false;
    }
  }

  /**
   * Gives committed events their positions, one replica at a time, so positions appear in order,
   * queues them for the webhooks that want them and NOTIFYs, all in one statement (the function
   * from migration Migration20261123231500, which says how it keeps positions in order). It takes
   * RELAY_BATCH events at a time: a commit that wrote more (a large session cancelled) has the
   * rest positioned at once too, not a batch a sweep.
   */
  private async positionPendingEvents(): Promise<void> {
    try {
      for (;;) {
        const [result] = await preparedSql<{ deliveries: number; last: string | null }>(
          this.orm.em.fork(),
          'SELECT deliveries, last_position::text AS last FROM position_pending_events(?, ?)',
          [this.clock.now(), POSITIONED_CHANNEL],
        );
        if ((result?.deliveries ?? 0) > 0) this.options.onDeliveriesQueued?.();
        if (!result?.last) return;
        // Positions have no gaps: this far past the last this process gave, the batch may have
        // been full (or other replicas gave some meanwhile: one more call, which finds none).
        const full = BigInt(result.last) - BigInt(this.relayedThrough) >= RELAY_BATCH;
        this.relayedThrough = result.last;
        if (!full) return;
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'could not position events; the next sweep retries');
    }
  }

  /**
   * A relay positioned events up to `last`. With nobody subscribed in this process there is
   * nothing to read them for: the hub only moves past them, so a later subscription starts live
   * from there. (Under a checkout burst this saves a read per commit.)
   */
  private positioned(last: string | undefined): void {
    if (this.subscribers.size === 0 && last && /^\d+$/.test(last)) {
      if (BigInt(last) > BigInt(this.lastPosition)) this.lastPosition = last;
      return;
    }
    void this.fetch.run();
  }

  /** Reads events positioned since the last read and hands them to matching subscribers, in order. */
  private async deliverNewEvents(): Promise<void> {
    const PAGE = 1000;
    try {
      for (;;) {
        const rows = await sql<StoredEvent>(this.orm.em.fork(), `${SELECT_EVENT} WHERE position > ?::bigint ORDER BY domain_event.position LIMIT ?`, [this.lastPosition, PAGE]);
        for (const row of rows) {
          const event = readEvent(row);
          // The hub may have moved past it meanwhile (see positioned()); never go back.
          if (BigInt(event.position) <= BigInt(this.lastPosition)) continue;
          for (const subscriber of this.subscribers) subscriber.offer(event);
          this.lastPosition = event.position;
        }
        if (rows.length < PAGE) return;
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'could not read new events; the next sweep retries');
    }
  }
}

export function matches(filter: EventFilter, event: StoredEvent): boolean {
  if (filter.kinds && !filter.kinds.includes(event.kind)) return false;
  if (filter.producerId && filter.producerId !== event.producerId) return false;
  if (filter.hubId && filter.hubId !== event.hubId) return false;
  if (filter.sessionOffers && !matchesSessionOffers(filter.sessionOffers, event)) return false;
  return true;
}

/** Whether a session's storefront may want an event, as it arrives (SessionOffersFilter). */
function matchesSessionOffers(filter: SessionOffersFilter, event: StoredEvent): boolean {
  // A completion, a shipment in full, a transfer, a swap, a short fill: another hub's orders and
  // the producer's stock, not this storefront's business, and nothing it could sell changed.
  if (!OFFER_KINDS.includes(event.kind)) return event.availableChanged && (!filter.offeredRead || filter.offered.has(event.productId));
  if (event.salesSessionId !== filter.salesSessionId) return false;
  filter.offered.add(event.productId);
  return true;
}

/** Whether a session's storefront gets an event, in position order (SessionOffersFilter). */
function admitInOrder(filter: SessionOffersFilter, event: StoredEvent): boolean {
  if (!ON_SALE_KINDS.includes(event.kind)) return filter.onSale.has(event.productId);
  // Only an addition or a restore puts an offer on sale; a withdrawal or the session's close takes it off.
  if (event.kind === EventKind.OFFERED) filter.onSale.add(event.productId);
  else filter.onSale.delete(event.productId);
  return true;
}

function readEvent(row: StoredEvent): StoredEvent {
  return { ...row, createdAt: instant(row.createdAt) };
}

/**
 * One subscription: first the stored events after `after` (if given), then live ones, each
 * exactly once and in position order. Its queue of live events is bounded: a client that stops
 * reading them is cut off rather than allowed to grow the server's memory. While it replays, live
 * events past the bound are let go instead, and read from the database when the replay gets there.
 */
class Subscriber implements OpenedStream {
  /** Live events, in position order, waiting for the client to read them. */
  private readonly queue: StoredEvent[] = [];
  private backlog: StoredEvent[] = [];
  private replaying: boolean;
  /** How many times live events were let go during the replay (offer()). */
  private dropped = 0;
  /** The position of the last event handed to the client or passed over (admitInOrder()); at first, where it started. */
  private cursor: bigint;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private done = false;

  constructor(
    private readonly hub: EventHub,
    private readonly request: SubscribeRequest,
    readonly start: string,
    private readonly maxBuffered: number,
    private readonly onClose: () => void,
  ) {
    // Live-only too, until the client first asks: a burst arriving while its subscription is
    // still being set up (a storefront's offers being read) is let go and read back, not held
    // against it as a client too slow to read.
    this.replaying = true;
    this.cursor = BigInt(start);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<StoredEvent> {
    return this;
  }

  /** A live event from the hub. */
  offer(event: StoredEvent): void {
    if (this.done || !matches(this.request.filter, event)) return;
    // Already handed out by the replay (the hub can be behind the database): queued, it would
    // count against the buffer of a client that is keeping up.
    if (BigInt(event.position) <= this.cursor) return;
    if (this.queue.length >= this.maxBuffered) {
      if (this.replaying) {
        // Still catching up from the database, which holds these too: let them go and read them
        // there, rather than cut off a client reading as fast as it can through a busy stream.
        this.queue.length = 0;
        this.dropped += 1;
        return;
      }
      this.close(new SubscriberTooSlowError(this.cursor.toString()));
      return;
    }
    this.queue.push(event);
    this.wakeUp();
  }

  async next(): Promise<IteratorResult<StoredEvent>> {
    for (;;) {
      if (this.failure) throw this.failure;
      // Ended (the client completed it or left, or the server is stopping): nothing more, neither
      // what is queued nor the rest of a replay. The client resumes with `after:` if it wants them.
      if (this.done) return { value: undefined, done: true };
      // A live-only subscription whose queue has kept every event since it began has nothing to read.
      if (this.replaying && this.backlog.length === 0 && this.request.after === undefined && this.dropped === 0) this.replaying = false;
      if (this.replaying && this.backlog.length === 0) {
        const droppedBefore = this.dropped;
        // A failed read ends the subscription here too: graphql-ws hands the error to the client
        // and never calls return(), so it would stay in the hub, offered every event, for good.
        const page = await this.hub.readAfter(this.request.filter, this.cursor.toString(), 200).catch((error: unknown) => {
          this.close();
          throw error;
        });
        if (this.done) continue;
        this.backlog = page;
        if (this.backlog.length === 0) {
          // Live events let go while the page was read may have come after it: read again now
          // (nothing else would wake this subscriber for them).
          if (this.dropped !== droppedBefore) continue;
          this.replaying = false;
        }
      }
      // Replayed events first; live events that the replay already covered are skipped.
      const event = this.backlog.shift() ?? this.nextLive();
      if (event) {
        this.cursor = BigInt(event.position);
        const { sessionOffers } = this.request.filter;
        if (sessionOffers && !admitInOrder(sessionOffers, event)) continue;
        return { value: event, done: false };
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  async return(): Promise<IteratorResult<StoredEvent>> {
    this.close();
    return { value: undefined, done: true };
  }

  /** Ends the subscription: normally (server stopping, client gone) or with an error for the client. */
  close(error?: Error): void {
    if (this.done) return;
    this.failure = error;
    this.done = true;
    this.backlog = [];
    this.queue.length = 0;
    this.onClose();
    this.wakeUp();
  }

  private nextLive(): StoredEvent | undefined {
    if (this.replaying) return undefined;
    while (this.queue.length > 0) {
      const event = this.queue.shift()!;
      if (BigInt(event.position) > this.cursor) return event;
    }
    return undefined;
  }

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
