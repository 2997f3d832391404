import type { EntityManager } from '@mikro-orm/postgresql';
import { markEventsWritten } from '../../events/event-log.js';
import { preparedSql } from '../../shared/sql.js';
import { refusedAtCommit } from '../stock/stock.service.js';
import type { CustomerOrderRow } from './customer-order.entity.js';

/** One checkout's order, lines and planned hold, as place_customer_order() takes it (migration 20261124200000). */
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
  lines: { offer_id: string; product_id: string; producer_id: string; quantity: string; price_amount: number; currency: string }[];
  holds?: { product_id: string; location_id: string; held_delta: string; customer_order_id: string; producer_order_id: string }[];
}

/** What placing a basket wrote: no order when the session was not open, the key was taken, or its hold was refused. */
export interface Placement {
  order: CustomerOrderRow | null;
  lines: { offerId: string; producerOrderId: string }[];
}

/** At most this many baskets share a transaction: PostgreSQL tracks 64 subtransactions per transaction cheaply, no more. */
export const MAX_BATCH = 32;

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
 * A basket that could not be placed in its batch (its hold refused, its key taken or being taken)
 * answers with no order, and its checkout tries again on its own (CheckoutService), which gives
 * its exact answer: the batch's other baskets are not affected. A batch that fails as a whole
 * fails each of its checkouts with its error, as a checkout's own statement would; one that has
 * not answered by `deadlineMs` (its connection lost without a word) fails them as unavailable,
 * and the next batch goes.
 */
export class CheckoutBatcher {
  /** The checkouts waiting, by session and the products they hold, with whether a batch of them is running. */
  private readonly queues = new Map<string, { waiting: Waiting[]; running: boolean }>();
  /** How many batches ran and how many baskets they carried: their ratio is the batches' mean size. */
  readonly placed = { batches: 0, baskets: 0 };
  /** A fork of the first caller's entity manager, never in a transaction: batches run on a connection of its pool. */
  private em: EntityManager | undefined;

  constructor(private readonly deadlineMs: number) {}

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
    const waiting = queue.waiting;
    const placement = new Promise<Placement>((resolve, reject) => waiting.push({ basket, stamp, resolve, reject }));
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
    queue.running = true;
    this.placed.batches += 1;
    this.placed.baskets += batch.length;
    void this.run(batch).finally(() => {
      queue.running = false;
      this.startBatch(key);
    });
  }

  private async run(batch: Waiting[]): Promise<void> {
    const baskets = batch.map((entry) => (entry.stamp ? { ...entry.basket, ...entry.stamp() } : entry.basket));
    let deadline: NodeJS.Timeout | undefined;
    try {
      const placements = await Promise.race([
        baskets.length === 1 ? this.placeAlone(baskets[0]!).then((placement) => [placement]) : this.placeTogether(baskets),
        new Promise<never>((_, reject) => {
          deadline = setTimeout(() => reject(Object.assign(new Error('the database did not answer a batch of checkouts in time'), { code: 'ETIMEDOUT' })), this.deadlineMs);
        }),
      ]);
      if (placements.some((placement) => placement.order)) markEventsWritten(this.em!);
      batch.forEach((entry, i) => {
        const placement = placements[i];
        // Answers come in the baskets' order; a mismatch would hand one customer another's order.
        if (!placement || (placement.order && placement.order.id !== baskets[i]!.id)) entry.reject(new Error('a batch answered out of order'));
        else entry.resolve(placement);
      });
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
   * refusal there (refusedAtCommit()) keeps nothing of it. Half the statements of a batch of one.
   */
  private async placeAlone(basket: BasketRecord): Promise<Placement> {
    try {
      const [row] = await preparedSql<{ placement: Placement }>(this.em!, 'SELECT place_customer_order(?::jsonb) AS placement', [JSON.stringify(basket)]);
      return row!.placement;
    } catch (error) {
      if (refusedAtCommit(error)) return { order: null, lines: [] };
      throw error;
    }
  }
}

interface Waiting {
  basket: BasketRecord;
  stamp: (() => Pick<BasketRecord, 'at' | 'holdExpiresAt'>) | undefined;
  resolve: (placement: Placement) => void;
  reject: (error: unknown) => void;
}
