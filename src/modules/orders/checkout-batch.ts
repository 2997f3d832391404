import type { EntityManager } from '@mikro-orm/postgresql';
import { markEventsWritten } from '../../events/event-log.js';
import { DEADLOCK_DETECTED, LOCK_NOT_AVAILABLE, preparedSql } from '../../shared/sql.js';
import { overCap } from '../sessions/offer-caps.js';
import { withdrawnMeanwhile } from '../sessions/offer-changes.service.js';
import { type HeldLedgerRow, refusedAtCommit } from '../stock/stock.service.js';
import type { CustomerOrderRow } from './customer-order.entity.js';

/** One checkout's order, lines and planned hold, as place_customer_order() takes it (migrations 20261124200000, 20261124220000). */
export interface BasketRecord {
  id: string;
  salesSessionId: string;
  hubId: string;
  customerRef: string;
  idempotencyKey: string;
  requestHash: string;
  /** The checkout's instant, ISO 8601: the session must be open then. */
  at: string;
  holdExpiresAt: string;
  lines: {
    offer_id: string;
    product_id: string;
    producer_id: string;
    quantity: string;
    price_amount: number;
    currency: string;
    /** The producer's price to the hub, copied onto the line (Migration20261125065114); null when it has none. */
    wholesale_amount: number | null;
    wholesale_currency: string | null;
  }[];
  /** The planned hold's ledger rows (heldLedgerRows()): their order and producer orders are the function's to add. */
  holds?: HeldLedgerRow[];
}

/** What placing a basket wrote: no order when the session was not open, the key was taken, or (with `error`) the basket was rolled back. */
export interface Placement {
  order: CustomerOrderRow | null;
  lines: { offerId: string; producerOrderId: string }[];
  /** What rolled the basket back inside its batch. */
  error?: { code: string; constraint: string | null; message: string };
}

/** At most this many baskets share a transaction: PostgreSQL tracks 64 subtransactions per transaction cheaply, no more. */
export const MAX_BATCH = 32;

/**
 * Besides a hold refused for want of stock or a cap (refusedAsShort()), why a basket may be rolled back
 * and its checkout still be placed alone: it gave up waiting for a lock (another transaction's
 * same idempotency key, lock_timeout), or was chosen to end a deadlock.
 */
const FALLS_BACK = new Set([LOCK_NOT_AVAILABLE, DEADLOCK_DETECTED]);

/** An error the API answers as SERVICE_UNAVAILABLE (retryable): see src/graphql/format-error.ts. */
function unavailable(message: string): Error {
  return Object.assign(new Error(message), { code: 'ETIMEDOUT' });
}

export interface BatcherTimeouts {
  /**
   * How long a batch may take before its checkouts are told the database is unavailable and the
   * next batch goes: longer than a connection may take to come (DATABASE_ACQUIRE_TIMEOUT) and a
   * statement to run (DATABASE_STATEMENT_TIMEOUT), so it only fires for a connection lost without
   * a word. The batch may still commit: a client that tries again with its idempotency key gets
   * its order.
   */
  batchMs: number;
  /** How long a checkout may wait for its batch to be sent, as it may wait for a connection. */
  queueMs: number;
}

/**
 * Places the checkouts of one session's same products that arrive together in one transaction, a
 * savepoint each (place_customer_orders()). While a batch of some products is running, checkouts
 * of those products wait for the next one; otherwise a checkout goes at once, alone. So a quiet
 * hub's checkout waits for nobody, and a flash sale's hundreds of checkouts of one product share a
 * few COMMITs and a few turns of its rows' lock: what each commit and each hand-over of the lock
 * costs PostgreSQL was half of a hold's time (bench/RESULTS.md). Other products' and other
 * sessions' checkouts run beside them, in batches of their own: one product's wait (its levels
 * locked by another session's completion, say) never holds up another's, nor a closing session
 * another hub's.
 *
 * A basket rolled back in its batch because its hold was refused or it gave up on a lock, or not
 * written because its key was taken or its session closed, answers with no order, and its
 * checkout tries again on its own (CheckoutService), which gives its exact answer; any other
 * error fails that checkout alone. The batch's other baskets are not affected. A batch that fails
 * as a whole fails each of its checkouts with its error, as a checkout's own statement would.
 */
export class CheckoutBatcher {
  /** The checkouts waiting, by session and the products they hold, with whether a batch of them is running. */
  private readonly queues = new Map<string, { waiting: Waiting[]; running: boolean }>();
  /** How many batches ran and how many baskets they carried: their ratio is the batches' mean size. */
  readonly placed = { batches: 0, baskets: 0 };
  /** A fork of the first caller's entity manager, never in a transaction: batches run on a connection of its pool. */
  private em: EntityManager | undefined;

  constructor(private readonly timeouts: BatcherTimeouts) {}

  /**
   * Places `basket` in the next batch of its session and products. `stamp`, when given, gives the
   * basket's instant again as its batch is sent: a checkout that waited for a batch is placed (and
   * its session checked open, and its hold timed) as of then, not as of when it began.
   */
  place(em: EntityManager, basket: BasketRecord, stamp?: () => Pick<BasketRecord, 'at' | 'holdExpiresAt'>): Promise<Placement> {
    this.em ??= em.fork();
    const products = [...new Set((basket.holds ?? []).map((hold) => hold.product_id))].sort();
    const key = `${basket.salesSessionId}:${products.join(',')}`;
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = { waiting: [], running: false }));
    const { waiting } = queue;
    const placement = new Promise<Placement>((resolve, reject) => {
      const entry: Waiting = {
        basket,
        stamp,
        resolve,
        reject,
        // Cleared as its batch is sent; until then, a checkout waits no longer than for a connection.
        expiry: setTimeout(() => {
          // Still queued: its batch would have cleared this timer. Looked up, never assumed.
          const index = waiting.indexOf(entry);
          if (index >= 0) waiting.splice(index, 1);
          reject(unavailable('too many checkouts of these products are waiting for the database'));
        }, this.timeouts.queueMs),
      };
      waiting.push(entry);
    });
    this.startBatch(key);
    return placement;
  }

  /** How many checkouts are waiting for a batch. */
  get waiting(): number {
    let count = 0;
    for (const queue of this.queues.values()) count += queue.waiting.length;
    return count;
  }

  private startBatch(key: string): void {
    const queue = this.queues.get(key)!;
    if (queue.running) return;
    if (queue.waiting.length === 0) {
      this.queues.delete(key);
      return;
    }
    const batch = queue.waiting.splice(0, MAX_BATCH);
    for (const entry of batch) clearTimeout(entry.expiry);
    queue.running = true;
    this.placed.batches += 1;
    this.placed.baskets += batch.length;
    void this.run(batch).finally(() => {
      queue.running = false;
      this.startBatch(key);
    });
  }

  private async run(batch: Waiting[]): Promise<void> {
    let deadline: NodeJS.Timeout | undefined;
    try {
      const baskets = batch.map((entry) => (entry.stamp ? { ...entry.basket, ...entry.stamp() } : entry.basket));
      const placements = await Promise.race([
        baskets.length === 1 ? this.placeAlone(baskets[0]!).then((placement) => [placement]) : this.placeTogether(baskets),
        new Promise<never>((_, reject) => {
          deadline = setTimeout(() => reject(unavailable('the database did not answer a batch of checkouts in time')), this.timeouts.batchMs);
        }),
      ]);
      if (placements.some((placement) => placement.order)) markEventsWritten(this.em!);
      batch.forEach((entry, i) => settle(entry, baskets[i]!, placements[i]));
    } catch (error) {
      // Nothing of the batch was kept, or, if the connection broke during its COMMIT, its
      // checkouts find their orders by idempotency key when their clients try again.
      for (const entry of batch) entry.reject(error);
    } finally {
      clearTimeout(deadline);
    }
  }

  private async placeTogether(baskets: BasketRecord[]): Promise<Placement[]> {
    const [row] = await preparedSql<{ placements: Placement[] }>(this.em!, 'SELECT place_customer_orders(?::jsonb) AS placements', [JSON.stringify(baskets)]);
    return row!.placements;
  }

  /**
   * A basket alone needs no savepoint: its hold is applied at its own COMMIT, as it ends, and a
   * refusal there (refusedAsShort()) keeps nothing of it. Half the statements of a batch of one.
   */
  private async placeAlone(basket: BasketRecord): Promise<Placement> {
    try {
      return await placeCustomerOrder(this.em!, basket);
    } catch (error) {
      // As for a basket of a batch (settle()): a deadlock's victim, or a lock given up on, runs
      // again in the checkout's locked transaction, for an answer rather than a retry.
      if (refusedAsShort(error) || FALLS_BACK.has((error as { code?: string }).code ?? '')) return NOT_PLACED;
      throw error;
    }
  }
}

/**
 * Whether a basket's write was refused for want of what it asked, as read without locks: its
 * planned hold found less stock at COMMIT (refusedAtCommit()), its lines took a capped offer
 * past its cap (overCap()), or one of its offers was withdrawn (withdrawnMeanwhile()). Nothing of
 * it was kept, and the checkout can run again reading all three under lock, for its exact answer.
 */
export function refusedAsShort(error: unknown): boolean {
  return refusedAtCommit(error) || overCap(error) || withdrawnMeanwhile(error);
}

/** Writes one basket with place_customer_order(), in `em`'s transaction when it has one. */
export async function placeCustomerOrder(em: EntityManager, basket: BasketRecord): Promise<Placement> {
  const [row] = await preparedSql<{ placement: Placement }>(em, 'SELECT place_customer_order(?::jsonb) AS placement', [JSON.stringify(basket)]);
  return row!.placement;
}

const NOT_PLACED: Placement = { order: null, lines: [] };

/** Answers one checkout of a batch with its basket's placement (matched by order id: answers come in the baskets' order). */
function settle(entry: Waiting, basket: BasketRecord, placement: Placement | undefined): void {
  if (!placement || (placement.order && placement.order.id !== basket.id)) {
    entry.reject(new Error('a batch of checkouts answered out of order'));
  } else if (placement.error && !refusedAsShort(placement.error) && !FALLS_BACK.has(placement.error.code)) {
    entry.reject(Object.assign(new Error(placement.error.message), placement.error));
  } else {
    entry.resolve(placement.error ? NOT_PLACED : placement);
  }
}

interface Waiting {
  basket: BasketRecord;
  stamp: (() => Pick<BasketRecord, 'at' | 'holdExpiresAt'>) | undefined;
  resolve: (placement: Placement) => void;
  reject: (error: unknown) => void;
  expiry: NodeJS.Timeout;
}
