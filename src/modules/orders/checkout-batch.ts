import type { EntityManager } from '@mikro-orm/postgresql';
import { markEventsWritten } from '../../events/event-log.js';
import { preparedSql } from '../../shared/sql.js';
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
 * Places the checkouts of the same products that arrive together in one transaction, a savepoint
 * each (place_customer_orders()). While a batch of some products is running, checkouts of those
 * products wait for the next one; otherwise a checkout goes at once, alone. So a quiet hub's
 * checkout waits for nobody, and a flash sale's hundreds of checkouts of one product share a few
 * COMMITs and a few turns of its rows' lock: what each commit and each hand-over of the lock
 * costs PostgreSQL was half of a hold's time (bench/RESULTS.md). Checkouts of other products run
 * beside them, in batches of their own: one product's wait (its levels locked by a session's
 * completion, say) never holds up another's.
 *
 * A basket that could not be placed in its batch answers with no order, and its checkout tries
 * again on its own (CheckoutService), which gives its exact answer: the batch's other baskets are
 * not affected. When the batch as a whole fails (a lost connection), every basket answers so.
 */
export class CheckoutBatcher {
  /** The checkouts waiting, by the products they hold (sorted ids), with whether a batch of those products is running. */
  private readonly queues = new Map<string, { waiting: Waiting[]; running: boolean }>();
  /** How many batches ran and how many baskets they carried: their ratio is the batches' mean size. */
  readonly placed = { batches: 0, baskets: 0 };
  /** A fork of the first caller's entity manager, never in a transaction: batches run on a connection of its pool. */
  private em: EntityManager | undefined;

  place(em: EntityManager, basket: BasketRecord): Promise<Placement> {
    this.em ??= em.fork();
    const products = [...new Set((basket.holds ?? []).map((hold) => hold.product_id))].sort().join(',');
    let queue = this.queues.get(products);
    if (!queue) this.queues.set(products, (queue = { waiting: [], running: false }));
    const waiting = queue.waiting;
    const placement = new Promise<Placement>((done) => waiting.push({ basket, done }));
    this.startBatch(products);
    return placement;
  }

  private startBatch(products: string): void {
    const queue = this.queues.get(products)!;
    if (queue.running) return;
    if (queue.waiting.length === 0) {
      this.queues.delete(products);
      return;
    }
    const batch = queue.waiting.splice(0, MAX_BATCH);
    queue.running = true;
    this.placed.batches += 1;
    this.placed.baskets += batch.length;
    void this.run(batch).finally(() => {
      queue.running = false;
      this.startBatch(products);
    });
  }

  private async run(batch: Waiting[]): Promise<void> {
    let placements: Placement[];
    try {
      placements = batch.length === 1 ? [await this.placeAlone(batch[0]!.basket)] : await this.placeTogether(batch.map((entry) => entry.basket));
      if (placements.some((placement) => placement.order)) markEventsWritten(this.em!);
    } catch {
      // Nothing of the batch was kept (or, if the connection broke during COMMIT, its checkouts
      // find their orders by idempotency key when they try again).
      placements = batch.map(() => notPlaced);
    }
    batch.forEach((entry, i) => entry.done(placements[i] ?? notPlaced));
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
    const [row] = await preparedSql<{ placement: Placement }>(this.em!, 'SELECT place_customer_order(?::jsonb) AS placement', [JSON.stringify(basket)]);
    return row!.placement;
  }
}

const notPlaced: Placement = { order: null, lines: [] };

interface Waiting {
  basket: BasketRecord;
  done: (placement: Placement) => void;
}
