import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { requireProducer } from '../../auth/policy.js';
import { EventKind, markEventsWritten } from '../../events/event-log.js';
import { DomainError, type FieldPath, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { claimIdempotencyKey, hashRequest, idempotencyScope, IdempotentMutation, optionalIdempotencyKey } from '../../shared/idempotency.js';
import { isUuid } from '../../shared/ids.js';
import { formatQuantity, parseQuantity } from '../../shared/quantity.js';
import type { RequestContext } from '../../shared/request-context.js';
import { sql, uuidArray } from '../../shared/sql.js';
import { characters } from '../../shared/text.js';
import { stockAtLocations } from '../lots/stock-outside-lots.js';
import { lockLevels, namingBusyLevels } from './level-locks.js';
import type { PlanGuard } from './planned-stock.js';
import { allocateAcrossLocations, type LocationCandidate, type LocationStrategy } from './location-strategy.js';
import { StockMovementKind } from './stock-movement.entity.js';

export interface AdjustFields {
  productId: string;
  delta: string;
  reason?: string | null;
  locationId?: string | null;
  /** The lot the stock is in: its quantity changes with the stock. */
  lotId?: string | null;
  idempotencyKey?: string | null;
}

/** A product whose levels disagree with the ledger or with the orders holding it. */
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

export interface LocationFigures extends StockFigures {
  productId: string;
  locationId: string;
  priority: number;
}

/** One change to one product's stock at one location, and what it belongs to (for the ledger). */
export interface Move {
  productId: string;
  locationId: string;
  lotId?: string;
  onHandDelta?: Decimal;
  heldDelta?: Decimal;
  committedDelta?: Decimal;
  customerOrderId?: string;
  producerOrderId?: string;
  reason?: string;
  /**
   * Recorded in the ledger under this kind rather than the call's, and told to no subscriber: a
   * change a shipment makes to another order's bookkeeping (its commitment moved to where the
   * goods are), which must pass the availability check together with the shipment.
   */
  kind?: StockMovementKind;
}

export interface HoldRequest {
  productId: string;
  quantity: Decimal;
  /**
   * The producer order the hold is for, which hold() writes to the ledger. A planned hold has
   * none: place_customer_order() gives its ledger rows the producer order its product's line joined.
   */
  producerOrderId?: string;
  /** Where the request came from in the client's input, to name it if it cannot be met. */
  field: FieldPath;
}

export interface Shortage {
  request: HoldRequest;
  /** What is still available of the product, over all its locations, exactly. */
  available: string;
}

/** What a move tells subscribers, and where (for fulfilment events). */
export interface MoveEvents {
  kind: EventKind;
  locationId?: string;
  lotId?: string;
}

/**
 * Owns every write to stock levels. A product has a level at each of its producer's locations.
 * Each write is one statement (see apply()) that locks every level of the products it touches in
 * (product, lock_seq) order (StockLevel.lockSeq), so concurrent writers never deadlock, changes
 * the levels and appends the same deltas to the ledger and the event log, inside the caller's
 * transaction. A checkout's planned hold is the one exception: its ledger rows are applied to
 * the levels at COMMIT, by a trigger that locks in the same order (see planHold()).
 */
export class StockService {
  /**
   * `guardPlan`: refuses a write-off outside lots that would leave an order waiting to be picked
   * short (PickingService.guardPlan()). Only a tool that writes no stock (check-stock) goes without.
   */
  constructor(
    private readonly locationStrategy: LocationStrategy,
    private readonly guardPlan?: PlanGuard,
  ) {}

  /**
   * Reserves stock for a checkout under lock: either every request is met and held, or nothing
   * changes and the shortages are returned. Each request is taken from its product's locations as
   * the location strategy ranks them: the first that has enough alone, otherwise split in that
   * order. The levels are read FOR UPDATE, so the answer is final.
   *
   * Most checkouts do not come here: they plan the hold from levels read without locks
   * (planHold()) and write it with their order, to be applied at COMMIT.
   */
  async hold(em: EntityManager, at: Date, customerOrderId: string, requests: Required<HoldRequest>[]): Promise<Shortage[]> {
    if (requests.length === 0) return [];
    const levels = await sql<{ productId: string; locationId: string; priority: number; available: string }>(
      em,
      `SELECT s.product_id AS "productId", s.location_id AS "locationId", l.priority, s.on_hand - s.held - s.committed AS available
         FROM stock_level s JOIN location l ON l.id = s.location_id
        WHERE s.product_id = ANY(?::uuid[])
        ORDER BY s.product_id, s.lock_seq
          FOR UPDATE OF s`,
      [uuidArray(new Set(requests.map((r) => r.productId)))],
    );
    const { moves, shortages } = this.share(customerOrderId, requests, candidatesOf(levels));
    if (shortages.length > 0) return shortages;
    const short = await this.apply(em, StockMovementKind.HOLD, at, moves, { kind: EventKind.HELD }, { levelsLocked: true });
    if (short.length > 0) throw new Error('a hold found less stock than it had just read under lock');
    return [];
  }

  /**
   * A hold's moves worked out from levels read without locks (`seen`); undefined when they seem
   * short, and only a read under lock can tell. A checkout writes them with its order
   * (heldLedgerRows(), place_customer_order(), migrations 20261124200000 and 20261124220000),
   * marked for the deferred trigger that applies them to the levels at COMMIT (migrations
   * 20261123220417, 20261124170000 and 20261124230000): it locks each product's levels in lock_seq
   * order, as apply() does, changes them, and the level's CHECK refuses an oversell by failing the
   * commit (refusedAtCommit()); then it writes the product's HELD event, with the availability
   * after the hold. The hot rows are locked only while PostgreSQL commits, never while it waits
   * for the server.
   */
  planHold(customerOrderId: string, requests: HoldRequest[], seen: ReadonlyMap<string, LocationCandidate[]>): Move[] | undefined {
    const { moves, shortages } = this.share(customerOrderId, requests, seen);
    return shortages.length === 0 ? moves : undefined;
  }

  /**
   * The requests the levels as read (`seen`, without locks) cannot meet, with what they have: for
   * telling a customer refused for another reason what the stock looked like too.
   */
  shortagesAsRead(requests: HoldRequest[], seen: ReadonlyMap<string, LocationCandidate[]>): Shortage[] {
    return this.share('', requests, seen).shortages;
  }

  /** Shares each request out over its product's locations, as the strategy ranks them. */
  private share(customerOrderId: string, requests: HoldRequest[], levels: ReadonlyMap<string, LocationCandidate[]>): { moves: Move[]; shortages: Shortage[] } {
    // Copies: a later request for the same product must see what an earlier one took.
    const candidates = new Map([...levels].map(([productId, list]) => [productId, list.map((c) => ({ ...c }))]));
    const moves: Move[] = [];
    const shortages: Shortage[] = [];
    for (const request of requests) {
      const options = candidates.get(request.productId) ?? [];
      const shares = allocateAcrossLocations(this.locationStrategy, request.quantity, options);
      if (!shares) {
        shortages.push({ request, available: formatQuantity(Decimal.sum(0, ...options.map((o) => o.available))) });
        continue;
      }
      for (const share of shares) {
        const option = options.find((o) => o.locationId === share.locationId)!;
        option.available = option.available.minus(share.quantity);
        moves.push({ productId: request.productId, locationId: share.locationId, heldDelta: share.quantity, customerOrderId, producerOrderId: request.producerOrderId });
      }
    }
    return { moves, shortages };
  }

  /**
   * Gives back everything a customer order still holds (payment failed, hold expired, order
   * cancelled), at the locations it was taken from: the ledger says where.
   */
  releaseCustomerOrder(em: EntityManager, at: Date, customerOrderId: string): Promise<void> {
    return this.releaseCustomerOrders(em, at, [customerOrderId]);
  }

  /**
   * Restates, with the products' availability now, the release events this transaction wrote for
   * a customer order: for a changed basket, whose new basket has since been held under the same
   * locks, so that no subscriber reads the stock as on sale in between. Events not yet positioned
   * are this transaction's (they get positions after it commits).
   */
  async restateReleasedAvailability(em: EntityManager, customerOrderId: string): Promise<void> {
    await sql(
      em,
      `UPDATE domain_event e
          SET available = (SELECT coalesce(sum(s.on_hand - s.held - s.committed), 0) FROM stock_level s WHERE s.product_id = e.product_id)
        WHERE e.position IS NULL AND e.customer_order_id = ? AND e.kind = ?`,
      [customerOrderId, EventKind.RELEASED],
    );
  }

  /**
   * Gives back everything these customer orders still hold (the hub cancelled their session), as
   * releaseCustomerOrder() would for each of them, in one statement: the ledger keeps a release per
   * order and location, and each order's producer and hub are told of its release. The levels are
   * locked in the order every writer takes them in, whatever the orders' products.
   */
  async releaseCustomerOrders(em: EntityManager, at: Date, customerOrderIds: readonly string[]): Promise<void> {
    const held = await sql<{ customerOrderId: string; productId: string; locationId: string; producerOrderId: string; held: string }>(
      em,
      `SELECT m.customer_order_id AS "customerOrderId", m.product_id AS "productId", m.location_id AS "locationId",
              m.producer_order_id AS "producerOrderId", sum(m.held_delta) AS held
         FROM stock_movement m WHERE m.customer_order_id = ANY(?::uuid[])
        GROUP BY m.customer_order_id, m.product_id, m.location_id, m.producer_order_id HAVING sum(m.held_delta) <> 0`,
      [uuidArray(customerOrderIds)],
    );
    await this.apply(em, StockMovementKind.RELEASE, at, held.map((h) => ({
      productId: h.productId,
      locationId: h.locationId,
      heldDelta: new Decimal(h.held).negated(),
      customerOrderId: h.customerOrderId,
      producerOrderId: h.producerOrderId,
    })), { kind: EventKind.RELEASED });
  }

  /**
   * A session closed: what its confirmed orders hold becomes committed to their producer orders,
   * at the same locations. Returns the producer orders that got any stock.
   */
  async commitSession(em: EntityManager, at: Date, salesSessionId: string): Promise<Set<string>> {
    const held = await sql<{ producerOrderId: string; productId: string; locationId: string; held: string }>(
      em,
      `SELECT m.producer_order_id AS "producerOrderId", m.product_id AS "productId", m.location_id AS "locationId",
              sum(m.held_delta) AS held
         FROM stock_movement m JOIN customer_order o ON o.id = m.customer_order_id
        WHERE o.sales_session_id = ? AND o.status = 'CONFIRMED'
        GROUP BY m.producer_order_id, m.product_id, m.location_id HAVING sum(m.held_delta) <> 0`,
      [salesSessionId],
    );
    await this.apply(em, StockMovementKind.COMMIT, at, held.map((h) => ({
      productId: h.productId,
      locationId: h.locationId,
      heldDelta: new Decimal(h.held).negated(),
      committedDelta: new Decimal(h.held),
      producerOrderId: h.producerOrderId,
    })), { kind: EventKind.COMPLETED });
    return new Set(held.map((h) => h.producerOrderId));
  }

  /**
   * Changes a product's stock on hand at one location (a harvest, a count, a write-off); the
   * product's first-choice location when none is named. Taking away more than is available there
   * is refused: held and committed stock belongs to customers.
   *
   * A delta applied twice is stock that does not exist, sold to customers: with an idempotency
   * key, a retry of a write that committed (its answer lost to a timeout) changes nothing.
   */
  async adjust(ctx: RequestContext, input: AdjustFields): Promise<void> {
    const errors = new InputErrors();
    const delta = parseQuantity(input.delta, ['delta'], errors, { allowNegative: true });
    const reason = input.reason?.trim() || undefined;
    if (reason && characters(reason) > 500) errors.invalid('must be at most 500 characters', ['reason']);
    // An empty id is an id that names nothing, not an absent one.
    if (typeof input.locationId === 'string' && !isUuid(input.locationId)) errors.add(UserErrorCode.NOT_FOUND, `no location with id "${input.locationId}"`, ['locationId']);
    if (typeof input.lotId === 'string' && !isUuid(input.lotId)) errors.add(UserErrorCode.NOT_FOUND, `no lot with id "${input.lotId}"`, ['lotId']);
    const idempotencyKey = optionalIdempotencyKey(input.idempotencyKey, errors);
    errors.throwIfAny();
    if (!isUuid(input.productId)) throw notFound(input.productId);
    const [product] = await sql<{ producerId: string; locationId: string | null }>(
      ctx.em,
      `SELECT p.producer_id AS "producerId",
              (SELECT l.id FROM location l WHERE l.producer_id = p.producer_id AND (l.id = ?::uuid OR ?::uuid IS NULL)
                ORDER BY l.priority, l.id LIMIT 1) AS "locationId"
         FROM product p WHERE p.id = ?`,
      [input.locationId ?? null, input.locationId ?? null, input.productId],
    );
    if (!product) throw notFound(input.productId);
    requireProducer(ctx.actor, product.producerId, 'productId');
    if (!product.locationId) throw DomainError.of(UserErrorCode.NOT_FOUND, `no location with id "${input.locationId}" for this producer`, ['locationId']);

    await ctx.em.transactional(async (em) => {
      // The location named, not the one it resolved to: a retry must replay even if the producer's
      // first choice changed since.
      if (idempotencyKey && !(await claimIdempotencyKey(em, ctx.clock.now(), {
        scope: idempotencyScope.producer(product.producerId),
        idempotencyKey,
        kind: IdempotentMutation.ADJUST_STOCK,
        resultId: input.productId,
        requestHash: hashRequest(IdempotentMutation.ADJUST_STOCK, {
          productId: input.productId,
          locationId: input.locationId ?? null,
          ...(input.lotId ? { lotId: input.lotId } : {}),
          delta: delta!.toFixed(),
          reason: reason ?? null,
        }),
      })).first) return;
      // A lot's stock changes with its lot, and only with it: the lots then never claim stock that
      // is gone (lots first, then levels, the order every writer locks them in). Where the lot is
      // is read under its lock: a move committed while this waited has taken its stock along.
      let locationId = product.locationId!;
      let levelsLocked = false;
      const lot = input.lotId ? await this.lockedLotOf(em, input.productId, input.lotId) : undefined;
      if (lot) {
        if (lot.status !== 'RELEASED') throw DomainError.of(UserErrorCode.INVALID_INPUT, `lot ${lot.code} is in ${lot.status}: not stock yet`, ['lotId']);
        if (input.locationId && lot.locationId !== product.locationId) throw DomainError.of(UserErrorCode.INVALID_INPUT, `lot ${lot.code} is at another location`, ['locationId']);
        if (delta!.negated().greaterThan(lot.quantity)) {
          throw DomainError.of(UserErrorCode.INSUFFICIENT_STOCK, `lot ${lot.code} has ${formatQuantity(lot.quantity)} left`, ['delta']);
        }
        locationId = lot.locationId;
      } else if (delta!.isNegative()) {
        const stock = await stockAtLocations(em, [input.productId]);
        const outside = stock.outside(input.productId, locationId);
        levelsLocked = true;
        if (delta!.negated().greaterThan(outside)) {
          throw DomainError.of(
            UserErrorCode.INSUFFICIENT_STOCK,
            `only ${formatQuantity(outside)} is kept outside lots there: to take stock out of a lot, name its lotId`,
            ['delta'],
          );
        }
      }
      const write = () => this.apply(em, StockMovementKind.ADJUST, ctx.clock.now(),
        [{ productId: input.productId, locationId, lotId: input.lotId ?? undefined, onHandDelta: delta, reason }],
        // A write-off naming a lot says which, and where it is (as a lot's other events do).
        { kind: EventKind.ADJUSTED, ...(lot ? { lotId: input.lotId!, locationId } : {}) }, { levelsLocked });
      // As a transfer: not what orders waiting to be picked ship there, or the room they need.
      const outsideLotsTaken = !lot && delta!.isNegative() && this.guardPlan;
      const short = outsideLotsTaken ? await outsideLotsTaken(em, { producerId: product.producerId, productId: input.productId }, ['delta'], write) : await write();
      if (short.length > 0) {
        throw DomainError.of(
          UserErrorCode.INSUFFICIENT_STOCK,
          `cannot remove ${formatQuantity(delta!.negated())}: only ${formatQuantity(short[0]!.available)} is available (the rest is held or committed)`,
          ['delta'],
        );
      }
      if (lot) {
        await sql(em, 'UPDATE lot SET quantity = quantity + ? WHERE id = ?', [delta!.toFixed(), input.lotId]);
        if (delta!.isNegative()) await trimPinsTo(em, input.lotId!);
        // A unique item goes whole or not at all: a pin that no longer takes all of it (the item
        // was weighed again) would ship part of it. Its line is suggested lots again.
        if (lot.kind === 'ITEM') await sql(em, 'DELETE FROM lot_pick p USING lot l WHERE l.id = p.lot_id AND p.lot_id = ? AND p.quantity <> l.quantity', [input.lotId]);
      }
    });
  }

  /** The lot, locked, if it is one of this product's; NOT_FOUND otherwise. */
  private async lockedLotOf(em: EntityManager, productId: string, lotId: string) {
    const [lot] = await sql<{ code: string; status: string; kind: string; locationId: string; quantity: string }>(
      em,
      'SELECT code, status, kind, location_id AS "locationId", quantity FROM lot WHERE id = ? AND product_id = ? FOR UPDATE',
      [lotId, productId],
    );
    if (!lot) throw DomainError.of(UserErrorCode.NOT_FOUND, `no lot of this product with id "${lotId}"`, ['lotId']);
    return lot;
  }

  /** Current figures for each product, summed over its locations, for reads (no locks). */
  async figures(em: EntityManager, productIds: readonly string[]): Promise<Map<string, StockFigures>> {
    const rows = await sql<StockFigures & { productId: string }>(
      em,
      `SELECT product_id AS "productId", sum(on_hand) AS "onHand", sum(held) AS held, sum(committed) AS committed,
              sum(on_hand - held - committed) AS available
         FROM stock_level WHERE product_id = ANY(?::uuid[]) GROUP BY product_id`,
      [uuidArray(productIds)],
    );
    return new Map(rows.map((r) => [r.productId, r]));
  }

  /** Each product's figures at each location, first-choice location first. */
  levelsByLocation(em: EntityManager, productIds: readonly string[]): Promise<LocationFigures[]> {
    return sql<LocationFigures>(
      em,
      `SELECT s.product_id AS "productId", s.location_id AS "locationId", l.priority, s.on_hand AS "onHand", s.held, s.committed,
              s.on_hand - s.held - s.committed AS available
         FROM stock_level s JOIN location l ON l.id = s.location_id
        WHERE s.product_id = ANY(?::uuid[]) ORDER BY s.product_id, l.priority, l.id`,
      [uuidArray(productIds)],
    );
  }

  /**
   * Compares every product's levels with its ledger (location by location) and with what live
   * customer lines hold. Returns the products that disagree; an empty list is the healthy answer.
   */
  reconcile(em: EntityManager): Promise<StockDrift[]> {
    return sql<StockDrift>(
      em,
      `WITH ledger AS (SELECT product_id, location_id, sum(on_hand_delta) AS on_hand, sum(held_delta) AS held,
                              sum(committed_delta) AS committed
                         FROM stock_movement GROUP BY product_id, location_id),
            by_location AS (SELECT s.product_id, s.on_hand, s.held, s.committed,
                                   coalesce(m.on_hand, 0) AS ledger_on_hand, coalesce(m.held, 0) AS ledger_held,
                                   coalesce(m.committed, 0) AS ledger_committed,
                                   s.on_hand <> coalesce(m.on_hand, 0) OR s.held <> coalesce(m.held, 0)
                                     OR s.committed <> coalesce(m.committed, 0) OR s.on_hand - s.held - s.committed < 0 AS drifted
                              FROM stock_level s LEFT JOIN ledger m ON m.product_id = s.product_id AND m.location_id = s.location_id),
            products AS (SELECT product_id, sum(on_hand) AS on_hand, sum(held) AS held, sum(committed) AS committed,
                                sum(ledger_on_hand) AS ledger_on_hand, sum(ledger_held) AS ledger_held,
                                sum(ledger_committed) AS ledger_committed, bool_or(drifted) AS drifted
                           FROM by_location GROUP BY product_id),
            held_by_orders AS (SELECT l.product_id, sum(l.quantity) AS quantity
                                 FROM customer_order_line l
                                 JOIN customer_order o ON o.id = l.customer_order_id
                                 JOIN sales_session ss ON ss.id = o.sales_session_id
                                WHERE o.status IN ('PENDING_PAYMENT', 'CONFIRMED') AND ss.completed_at IS NULL
                                GROUP BY l.product_id)
       SELECT p.product_id AS "productId", p.on_hand AS "onHand", p.held, p.committed,
              p.ledger_on_hand AS "ledgerOnHand", p.ledger_held AS "ledgerHeld", p.ledger_committed AS "ledgerCommitted",
              coalesce(h.quantity, 0) AS "heldByOrders"
         FROM products p LEFT JOIN held_by_orders h ON h.product_id = p.product_id
        WHERE p.drifted OR p.held <> coalesce(h.quantity, 0)
        ORDER BY p.product_id`,
    );
  }

  /**
   * Creates the (empty) levels a producer's products lack at its locations: one for each product
   * at each location, after a product or a location is added. Two transactions adding a product
   * and a location at once would each miss the other's row (neither sees what the other has not
   * committed), and that product would have no level there, for good: so each first locks the
   * producer (NO KEY UPDATE: rows that merely reference it are not held up), in a statement of
   * its own, and the insert that follows sees whatever the one it waited for committed.
   */
  async createMissingLevels(em: EntityManager, producerId: string): Promise<void> {
    await sql(em, 'SELECT 1 FROM producer WHERE id = ? FOR NO KEY UPDATE', [producerId]);
    await sql(
      em,
      // In (product, location) order, so a new product's levels are numbered (lock_seq) in the
      // order a replica of the previous version locks them in, during a rolling upgrade.
      `INSERT INTO stock_level (product_id, location_id)
       SELECT p.id, l.id FROM product p JOIN location l ON l.producer_id = p.producer_id WHERE p.producer_id = ?
        ORDER BY p.id, l.id
       ON CONFLICT DO NOTHING`,
      [producerId],
    );
  }

  /**
   * Applies moves in one statement (the holds, releases and commits above, and the transfers,
   * receipts and shipments fulfilment works out): locks every level of the products they touch,
   * in (product, lock_seq) order (see StockLevel.lockSeq), so concurrent writers never deadlock;
   * and unless a move would take a location's availability below zero, changes the levels,
   * appends the ledger rows and one event per product and order. Returns the levels that are
   * short, with what they have available; then nothing was changed.
   *
   * One statement, because the row locks are the hot spot under load: they are held for this
   * round trip and the commit, and never while the server does anything else. Except for moves
   * that lower availability, whose levels are locked by a statement of their own first (unless
   * the caller has `levelsLocked` them): an UPDATE builds each row from the version in its
   * statement's snapshot and checks the CHECK constraints before it notices a newer version, so
   * a level whose availability rose meanwhile (a release) could fail `available >= 0` from its
   * stale version, as a 500, though the newest had enough. Locked first, the statement's snapshot
   * has the newest version. Must run in a transaction.
   */
  async apply(em: EntityManager, kind: StockMovementKind, at: Date, moves: Move[], events?: MoveEvents, options: { levelsLocked?: boolean } = {}): Promise<LevelShortage[]> {
    if (moves.length === 0) return [];
    if (!options.levelsLocked && lowersAvailability(moves)) {
      await lockLevels(em, moves.map((m) => m.productId));
    }
    const rows = JSON.stringify(moves.map((m) => ({
      product_id: m.productId,
      location_id: m.locationId,
      lot_id: m.lotId ?? null,
      on_hand_delta: (m.onHandDelta ?? new Decimal(0)).toFixed(),
      held_delta: (m.heldDelta ?? new Decimal(0)).toFixed(),
      committed_delta: (m.committedDelta ?? new Decimal(0)).toFixed(),
      customer_order_id: m.customerOrderId ?? null,
      producer_order_id: m.producerOrderId ?? null,
      reason: m.reason ?? null,
      kind: m.kind ?? null,
    })));
    // Only when some move is recorded under its own kind (which tells no subscriber) do events
    // filter them out. The filter is not harmless: PostgreSQL, with no statistics on the moves,
    // expects it to keep almost none, and plans a session's completion (thousands of moves) for
    // one, taking 8 s instead of 2 in the benchmark.
    const silentMoves = moves.some((m) => m.kind !== undefined);
    const eventsInsert = events
      ? `, events AS (
         INSERT INTO domain_event (kind, producer_id, product_id, producer_order_id, hub_id, customer_order_id, location_id, lot_id,
                                   quantity, available, available_changed, created_at)
         SELECT ?, p.producer_id, e.product_id, e.producer_order_id, po.hub_id, e.customer_order_id, ?::uuid, ?::uuid,
                e.quantity, a.available, a.changed, ?
           FROM (SELECT product_id, producer_order_id, customer_order_id, ${EVENT_QUANTITY[kind]} AS quantity
                   FROM moves${silentMoves ? ' WHERE kind IS NULL' : ''} GROUP BY product_id, producer_order_id, customer_order_id) e
           JOIN product p ON p.id = e.product_id
           JOIN after a ON a.product_id = e.product_id
           LEFT JOIN producer_order po ON po.id = e.producer_order_id
          WHERE NOT EXISTS (SELECT 1 FROM short))`
      : '';
    const short = await namingBusyLevels(moves.map((m) => m.productId), sql<LevelShortage>(
      em,
      `WITH moves AS (
         SELECT m.* FROM jsonb_to_recordset(?::jsonb) AS m(product_id uuid, location_id uuid, lot_id uuid, on_hand_delta numeric,
                held_delta numeric, committed_delta numeric, customer_order_id uuid, producer_order_id uuid, reason text, kind text)),
       totals AS (
         SELECT product_id, location_id, sum(on_hand_delta) AS on_hand_delta, sum(held_delta) AS held_delta,
                sum(committed_delta) AS committed_delta FROM moves GROUP BY product_id, location_id),
       locked AS (
         SELECT s.product_id, s.location_id, s.on_hand - s.held - s.committed AS available FROM stock_level s
          WHERE s.product_id IN (SELECT product_id FROM totals)
          ORDER BY s.product_id, s.lock_seq FOR UPDATE),
       short AS (
         SELECT t.product_id, t.location_id, coalesce(l.available, 0) AS available
           FROM totals t LEFT JOIN locked l USING (product_id, location_id)
          WHERE l.product_id IS NULL
             OR l.available + t.on_hand_delta - t.held_delta - t.committed_delta < 0 AND t.held_delta + t.committed_delta - t.on_hand_delta > 0),
       updated AS (
         UPDATE stock_level s
            SET on_hand = s.on_hand + t.on_hand_delta, held = s.held + t.held_delta, committed = s.committed + t.committed_delta
           FROM totals t
          WHERE s.product_id = t.product_id AND s.location_id = t.location_id AND NOT EXISTS (SELECT 1 FROM short)
         RETURNING s.product_id),
       after AS (
         -- Each product's availability after the moves, and whether they moved it at all.
         SELECT product_id, available + delta AS available, delta <> 0 AS changed
           FROM (SELECT l.product_id, sum(l.available) AS available,
                        coalesce((SELECT sum(t.on_hand_delta - t.held_delta - t.committed_delta)
                                    FROM totals t WHERE t.product_id = l.product_id), 0) AS delta
                   FROM locked l GROUP BY l.product_id) a),
       ledger AS (
         INSERT INTO stock_movement (product_id, location_id, lot_id, kind, on_hand_delta, held_delta, committed_delta,
                                     customer_order_id, producer_order_id, reason, created_at)
         SELECT product_id, location_id, lot_id, coalesce(kind, ?), on_hand_delta, held_delta, committed_delta, customer_order_id, producer_order_id, reason, ?
           FROM moves WHERE NOT EXISTS (SELECT 1 FROM short))${eventsInsert}
       SELECT product_id AS "productId", location_id AS "locationId", available FROM short`,
      [rows, kind, at, ...(events ? [events.kind, events.locationId ?? null, events.lotId ?? null, at] : [])],
    ));
    if (short.length === 0 && events) markEventsWritten(em);
    return short;
  }
}

/**
 * After a write-off from a lot, its pickers' pins (lot_pick) keep no more than it has left: the
 * newest pins give way first, as the pick plan reads them (planPicks() serves the oldest first).
 * Kept, a pin past what the lot has would count against shipments and swaps naming the lot,
 * which the plan no longer gives it, and would come back if the lot's count were put right.
 */
async function trimPinsTo(em: EntityManager, lotId: string): Promise<void> {
  await sql(
    em,
    `WITH ranked AS (
       SELECT p.id, p.quantity, sum(p.quantity) OVER (ORDER BY p.created_at, p.id) - p.quantity AS before
         FROM lot_pick p WHERE p.lot_id = ?),
     kept AS (
       SELECT r.id, r.quantity, least(r.quantity, greatest(l.quantity - r.before, 0)) AS keep
         FROM ranked r CROSS JOIN lot l WHERE l.id = ?),
     gone AS (DELETE FROM lot_pick p USING kept k WHERE p.id = k.id AND k.keep = 0)
     UPDATE lot_pick p SET quantity = k.keep FROM kept k WHERE p.id = k.id AND k.keep > 0 AND k.keep < k.quantity`,
    [lotId, lotId],
  );
}

/**
 * A planned hold's ledger row, as place_customer_order() takes it, to be applied at COMMIT (or as
 * its statement ends, in a batch of checkouts). The function adds the order it places and the
 * producer order of the product's line.
 */
export interface HeldLedgerRow {
  product_id: string;
  location_id: string;
  held_delta: string;
}

/** A planned hold's moves (StockService.planHold()) as the ledger rows that apply it. */
export function heldLedgerRows(moves: Move[]): HeldLedgerRow[] {
  return moves.map((m) => ({ product_id: m.productId, location_id: m.locationId, held_delta: m.heldDelta!.toFixed() }));
}

/**
 * Whether a commit was refused because a hold applied at COMMIT found less stock than was read
 * (see StockService.planHold()): then nothing of it was kept, and it can run again with
 * the levels read under lock (hold()).
 */
export function refusedAtCommit(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string } | null;
  return e?.code === '23514' && e.constraint === 'stock_level_available_not_negative';
}

/** Levels as read from the database, grouped by product, as the location strategy takes them. */
export function candidatesOf(levels: Iterable<{ productId: string; locationId: string; priority: number; available: string }>): Map<string, LocationCandidate[]> {
  const candidates = new Map<string, LocationCandidate[]>();
  for (const level of levels) {
    const list = candidates.get(level.productId) ?? [];
    list.push({ locationId: level.locationId, priority: level.priority, available: new Decimal(level.available) });
    candidates.set(level.productId, list);
  }
  return candidates;
}

/** A level a move would have taken below zero available, and what it has. */
export interface LevelShortage {
  productId: string;
  locationId: string;
  available: string;
}

/** The size of the change each kind of move reports to subscribers (over one product's moves). */
const EVENT_QUANTITY: Record<StockMovementKind, string> = {
  [StockMovementKind.HOLD]: 'sum(held_delta)',
  [StockMovementKind.RELEASE]: '-sum(held_delta)',
  [StockMovementKind.COMMIT]: 'sum(committed_delta)',
  [StockMovementKind.ADJUST]: 'sum(on_hand_delta)',
  [StockMovementKind.RECEIVE]: 'sum(on_hand_delta)',
  [StockMovementKind.TRANSFER]: 'sum(greatest(on_hand_delta, 0))',
  [StockMovementKind.SHIP]: '-sum(on_hand_delta)',
};

function notFound(productId: string): DomainError {
  return DomainError.of(UserErrorCode.NOT_FOUND, `no product with id "${productId}"`, ['productId']);
}

/** Whether the moves, added up per level, take any level's availability down. */
function lowersAvailability(moves: readonly Move[]): boolean {
  const change = new Map<string, Decimal>();
  for (const m of moves) {
    const key = `${m.productId} ${m.locationId}`;
    const delta = (m.onHandDelta ?? new Decimal(0)).minus(m.heldDelta ?? 0).minus(m.committedDelta ?? 0);
    change.set(key, (change.get(key) ?? new Decimal(0)).plus(delta));
  }
  return [...change.values()].some((d) => d.isNegative());
}
