import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { requireProducer } from '../../auth/policy.js';
import { EventKind, markEventsWritten, stockEventsInsert } from '../../events/event-log.js';
import { DomainError, type FieldPath, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { formatQuantity, parseQuantity } from '../../shared/quantity.js';
import type { RequestContext } from '../../shared/request-context.js';
import { sql, uuidArray } from '../../shared/sql.js';
import { StockMovementKind } from './stock-movement.entity.js';

/** A product whose level disagrees with its ledger or with the orders holding it. */
export interface StockDrift {
  productId: string;
  onHand: string;
  held: string;
  committed: string;
  ledgerOnHand: string;
  ledgerHeld: string;
  ledgerCommitted: string;
  heldByOrders: string;
}

export interface StockFigures {
  onHand: string;
  held: string;
  committed: string;
  available: string;
}

/** One change to one product's stock, and what it belongs to (for the ledger). */
interface Move {
  productId: string;
  onHandDelta?: Decimal;
  heldDelta?: Decimal;
  committedDelta?: Decimal;
  customerOrderId?: string;
  producerOrderId?: string;
  reason?: string;
}

export interface HoldRequest {
  productId: string;
  quantity: Decimal;
  producerOrderId: string;
  /** Where the request came from in the client's input, to name it if it cannot be met. */
  field: FieldPath;
}

export interface Shortage {
  request: HoldRequest;
  /** What is still available of the product, exactly. */
  available: string;
}

export interface ReleaseLine {
  productId: string;
  quantity: Decimal;
  producerOrderId: string;
}

export interface CommitLine {
  productId: string;
  quantity: Decimal;
  producerOrderId: string;
}

/**
 * Owns every write to stock levels. Each write is one statement (see move()) that locks the rows
 * it touches in product-id order (so concurrent baskets cannot deadlock), changes the levels and
 * appends the same deltas to the ledger and the event log, inside the caller's transaction.
 */
export class StockService {
  /**
   * Reserves stock for a checkout: either every request is met and held, or nothing changes and
   * the shortages are returned. The check and the write happen under the same row locks.
   */
  async hold(em: EntityManager, at: Date, customerOrderId: string, requests: HoldRequest[]): Promise<Shortage[]> {
    const short = await this.move(em, StockMovementKind.HOLD, at, requests.map((r) => ({
      productId: r.productId,
      heldDelta: r.quantity,
      customerOrderId,
      producerOrderId: r.producerOrderId,
    })));
    return requests.flatMap((request) => {
      const shortage = short.get(request.productId);
      return shortage === undefined ? [] : [{ request, available: shortage }];
    });
  }

  /** Gives a customer order's held stock back (payment failed, hold expired, order cancelled). */
  async release(em: EntityManager, at: Date, customerOrderId: string, lines: ReleaseLine[]): Promise<void> {
    await this.move(em, StockMovementKind.RELEASE, at, lines.map((l) => ({
      productId: l.productId,
      heldDelta: l.quantity.negated(),
      customerOrderId,
      producerOrderId: l.producerOrderId,
    })));
  }

  /** A session closed: what its confirmed orders hold becomes committed to the producer orders. */
  async commit(em: EntityManager, at: Date, lines: CommitLine[]): Promise<void> {
    await this.move(em, StockMovementKind.COMMIT, at, lines.map((l) => ({
      productId: l.productId,
      heldDelta: l.quantity.negated(),
      committedDelta: l.quantity,
      producerOrderId: l.producerOrderId,
    })));
  }

  /**
   * Changes a product's stock on hand (a harvest, a count, a write-off). Taking away more than is
   * available is refused: held and committed stock belongs to customers.
   */
  async adjust(ctx: RequestContext, input: { productId: string; delta: string; reason?: string | null }): Promise<void> {
    const errors = new InputErrors();
    const delta = parseQuantity(input.delta, ['delta'], errors, { allowNegative: true });
    const reason = input.reason?.trim() || undefined;
    if (reason && reason.length > 500) errors.invalid('must be at most 500 characters', ['reason']);
    errors.throwIfAny();
    if (!isUuid(input.productId)) throw notFound(input.productId);
    const [product] = await sql<{ producerId: string }>(ctx.em, 'SELECT producer_id AS "producerId" FROM product WHERE id = ?', [input.productId]);
    if (!product) throw notFound(input.productId);
    requireProducer(ctx.actor, product.producerId, 'productId');

    await ctx.em.transactional(async (em) => {
      const short = await this.move(em, StockMovementKind.ADJUST, ctx.clock.now(), [{ productId: input.productId, onHandDelta: delta, reason }]);
      const available = short.get(input.productId);
      if (available !== undefined) {
        throw DomainError.of(
          UserErrorCode.INSUFFICIENT_STOCK,
          `cannot remove ${formatQuantity(delta!.negated())}: only ${formatQuantity(available)} is available (the rest is held or committed)`,
          ['delta'],
        );
      }
    });
  }

  /** Current figures for each product, for reads (no locks). */
  async figures(em: EntityManager, productIds: readonly string[]): Promise<Map<string, StockFigures>> {
    const rows = await sql<StockFigures & { productId: string }>(
      em,
      `SELECT product_id AS "productId", on_hand AS "onHand", held, committed,
              on_hand - held - committed AS available
         FROM stock_level WHERE product_id = ANY(?::uuid[])`,
      [uuidArray(productIds)],
    );
    return new Map(rows.map((r) => [r.productId, r]));
  }

  /**
   * Compares every stock level with the sum of its ledger and with what live customer lines hold.
   * Returns the products that disagree; an empty list is the healthy answer.
   */
  reconcile(em: EntityManager): Promise<StockDrift[]> {
    return sql<StockDrift>(
      em,
      `SELECT s.product_id AS "productId", s.on_hand AS "onHand", s.held, s.committed,
              coalesce(m.on_hand, 0) AS "ledgerOnHand", coalesce(m.held, 0) AS "ledgerHeld",
              coalesce(m.committed, 0) AS "ledgerCommitted", coalesce(h.quantity, 0) AS "heldByOrders"
         FROM stock_level s
         LEFT JOIN (SELECT product_id, sum(on_hand_delta) AS on_hand, sum(held_delta) AS held, sum(committed_delta) AS committed
                      FROM stock_movement GROUP BY product_id) m ON m.product_id = s.product_id
         LEFT JOIN (SELECT l.product_id, sum(l.quantity) AS quantity
                      FROM customer_order_line l
                      JOIN customer_order o ON o.id = l.customer_order_id
                      JOIN sales_session ss ON ss.id = o.sales_session_id
                     WHERE o.status IN ('PENDING_PAYMENT', 'CONFIRMED') AND ss.completed_at IS NULL
                     GROUP BY l.product_id) h ON h.product_id = s.product_id
        WHERE s.on_hand <> coalesce(m.on_hand, 0) OR s.held <> coalesce(m.held, 0)
           OR s.committed <> coalesce(m.committed, 0) OR s.held <> coalesce(h.quantity, 0)
           OR s.on_hand - s.held - s.committed < 0
        ORDER BY s.product_id`,
    );
  }

  /** Creates the (empty) stock level of a new product. */
  async createLevel(em: EntityManager, productId: string): Promise<void> {
    await sql(em, 'INSERT INTO stock_level (product_id) VALUES (?)', [productId]);
  }

  /**
   * Applies moves in one statement: locks the products' rows in product-id order (so concurrent
   * writers never deadlock), and unless a move would take any product's availability below zero,
   * changes the levels, appends the ledger rows and the events. Returns the products that are
   * short, with what they have available; then nothing was changed.
   *
   * One statement, because the row locks are the hot spot under load: they are held for this
   * round trip and the commit, and never while the server does anything else.
   */
  private async move(em: EntityManager, kind: StockMovementKind, at: Date, moves: Move[]): Promise<Map<string, string>> {
    if (moves.length === 0) return new Map();
    const rows = JSON.stringify(moves.map((m) => ({
      product_id: m.productId,
      on_hand_delta: (m.onHandDelta ?? new Decimal(0)).toFixed(),
      held_delta: (m.heldDelta ?? new Decimal(0)).toFixed(),
      committed_delta: (m.committedDelta ?? new Decimal(0)).toFixed(),
      customer_order_id: m.customerOrderId ?? null,
      producer_order_id: m.producerOrderId ?? null,
      reason: m.reason ?? null,
    })));
    const event = EVENT_OF_MOVE[kind];
    const short = await sql<{ productId: string; available: string }>(
      em,
      `WITH moves AS (
         SELECT m.*, ?::text AS kind, ?::text AS event_kind, ?::timestamptz AS at
           FROM jsonb_to_recordset(?::jsonb) AS m(product_id uuid, on_hand_delta numeric, held_delta numeric,
                committed_delta numeric, customer_order_id uuid, producer_order_id uuid, reason text)),
       totals AS (
         SELECT product_id, sum(on_hand_delta) AS on_hand_delta, sum(held_delta) AS held_delta,
                sum(committed_delta) AS committed_delta FROM moves GROUP BY product_id),
       locked AS (
         SELECT s.product_id, s.on_hand - s.held - s.committed AS available FROM stock_level s
          WHERE s.product_id IN (SELECT product_id FROM totals)
          ORDER BY s.product_id FOR UPDATE),
       short AS (
         SELECT t.product_id, coalesce(l.available, 0) AS available FROM totals t LEFT JOIN locked l USING (product_id)
          WHERE l.product_id IS NULL
             OR l.available + t.on_hand_delta - t.held_delta - t.committed_delta < 0 AND t.held_delta + t.committed_delta - t.on_hand_delta > 0),
       updated AS (
         UPDATE stock_level s
            SET on_hand = s.on_hand + t.on_hand_delta, held = s.held + t.held_delta, committed = s.committed + t.committed_delta
           FROM totals t
          WHERE s.product_id = t.product_id AND NOT EXISTS (SELECT 1 FROM short)
         RETURNING s.product_id, s.on_hand - s.held - s.committed AS available),
       ledger AS (
         INSERT INTO stock_movement (product_id, kind, on_hand_delta, held_delta, committed_delta,
                                     customer_order_id, producer_order_id, reason, created_at)
         SELECT product_id, kind, on_hand_delta, held_delta, committed_delta, customer_order_id, producer_order_id, reason, at
           FROM moves WHERE NOT EXISTS (SELECT 1 FROM short)),
       events AS (${stockEventsInsert('moves', event.quantity)})
       SELECT product_id AS "productId", available FROM short`,
      [kind, event.kind, at, rows],
    );
    if (short.length === 0) markEventsWritten(em);
    return new Map(short.map((s) => [s.productId, s.available]));
  }
}

/** What each kind of stock move tells subscribers, and the size of the change it reports. */
const EVENT_OF_MOVE: Record<StockMovementKind, { kind: EventKind; quantity: string }> = {
  [StockMovementKind.HOLD]: { kind: EventKind.HELD, quantity: 'm.held_delta' },
  [StockMovementKind.RELEASE]: { kind: EventKind.RELEASED, quantity: '-m.held_delta' },
  [StockMovementKind.COMMIT]: { kind: EventKind.COMPLETED, quantity: 'm.committed_delta' },
  [StockMovementKind.ADJUST]: { kind: EventKind.ADJUSTED, quantity: 'm.on_hand_delta' },
};

function notFound(productId: string): DomainError {
  return DomainError.of(UserErrorCode.NOT_FOUND, `no product with id "${productId}"`, ['productId']);
}
