import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { requireProducer } from '../../auth/policy.js';
import { appendEvents, EventKind, type EventRecord } from '../../events/event-log.js';
import { DomainError, type FieldPath, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { formatQuantity, notWholeSteps, parseQuantity } from '../../shared/quantity.js';
import type { RequestContext } from '../../shared/request-context.js';
import { instant, sql, uuidArray } from '../../shared/sql.js';
import { requiredText } from '../../shared/text.js';
import { unmetCriteria } from '../lots/lot-criteria.js';
import { type LotGrade, LotKind, LotStatus } from '../lots/lot.entity.js';
import { StockMovementKind } from '../stock/stock-movement.entity.js';
import type { Move, StockService } from '../stock/stock.service.js';
import { lineLeftShorter, type PlannedLine } from './pick-planner.js';
import type { PickingService } from './picking.service.js';
import { stockOutsideLots } from '../lots/stock-outside-lots.js';
import { allocateShortage } from './short-fill.js';
import { commitmentsFollowingTheGoods } from './commitments-follow-goods.js';

export interface ShipLineFields {
  productId: string;
  quantity: string;
  weightKg?: string | null;
  lots?: { lotId: string; quantity: string }[] | null;
}

export interface ShipFields {
  producerOrderId: string;
  carrier: string;
  trackingReference: string;
  /** What really ships, per product; everything as ordered, from the suggested lots, when absent. */
  lines?: ShipLineFields[] | null;
}

interface LockedLot {
  id: string;
  code: string;
  productId: string;
  locationId: string;
  kind: LotKind;
  status: LotStatus;
  grade: LotGrade;
  bestBefore: string | null;
  quantity: string;
  /** What picks of other orders have pinned of this lot: not this shipment's to take. */
  pinnedElsewhere: string;
}

/** What one product of the order really ships, worked out before anything is written. */
interface Shipment {
  line: PlannedLine;
  quantity: Decimal;
  weightKg?: Decimal;
  lots: { lotId: string; locationId: string; quantity: Decimal }[];
}

/**
 * Shipping a producer order: what left the door leaves stock on hand (from the lots it came
 * from), the order's commitment ends, and when less shipped than was ordered the shortage is
 * shared out among the customers by the short-fill rule, each line showing what it really gets.
 */
export class ShippingService {
  constructor(
    private readonly stock: StockService,
    private readonly picking: PickingService,
  ) {}

  async ship(ctx: RequestContext, input: ShipFields): Promise<void> {
    const errors = new InputErrors();
    requiredText(input.carrier, ['carrier'], 100, errors);
    requiredText(input.trackingReference, ['trackingReference'], 200, errors);
    const parsed = (input.lines ?? []).map((line, i) => ({
      ...line,
      index: i,
      amount: shippedQuantity(line.quantity, ['lines', i, 'quantity'], errors),
      weight: line.weightKg === null || line.weightKg === undefined ? undefined : parseQuantity(line.weightKg, ['lines', i, 'weightKg'], errors),
      lotAmounts: (line.lots ?? []).map((lot, j) => parseQuantity(lot.quantity, ['lines', i, 'lots', j, 'quantity'], errors)),
    }));
    errors.throwIfAny();
    const requestHash = hashShipment(input, parsed);
    if (!isUuid(input.producerOrderId)) throw orderNotFound(input.producerOrderId);
    const [order] = await sql<{ producerId: string }>(ctx.em, 'SELECT producer_id AS "producerId" FROM producer_order WHERE id = ?', [input.producerOrderId]);
    if (!order) throw orderNotFound(input.producerOrderId);
    requireProducer(ctx.actor, order.producerId, 'producerOrderId');

    await ctx.em.transactional(async (em) => {
      const now = ctx.clock.now();
      // The order, then its products' lots in id order (as a swap takes them).
      const [locked] = await sql<{ fulfilmentState: string; shipmentRequestHash: string | null }>(
        em,
        'SELECT fulfilment_state AS "fulfilmentState", shipment_request_hash AS "shipmentRequestHash" FROM producer_order WHERE id = ? FOR UPDATE',
        [input.producerOrderId],
      );
      // The same shipment asked for again (a retry whose answer was lost): it has shipped, nothing to do.
      if (locked!.fulfilmentState === 'FULFILLED' && locked!.shipmentRequestHash === requestHash) return;
      if (locked!.fulfilmentState !== 'UNFULFILLED') {
        const why = locked!.fulfilmentState === 'HELD' ? 'its session has not closed yet' : `it is ${locked!.fulfilmentState}`;
        throw DomainError.of(UserErrorCode.INVALID_STATE, `the order cannot ship: ${why}`, ['producerOrderId']);
      }
      // The order's products, with the steps they sell in: its lines no longer change (the order
      // is locked, its session over).
      const products = await sql<ProductSteps>(
        em,
        `SELECT p.id, p.name, p.unit, p.sellable_step AS "sellableStep" FROM product p
          WHERE p.id IN (SELECT product_id FROM customer_order_line WHERE producer_order_id = ?)`,
        [input.producerOrderId],
      );
      const productIds = products.map((p) => p.id);
      // Their lots, locked before the plan is read, so the suggested lots cannot be used up by a
      // concurrent shipment. Only these lots may ship: one received while this shipment waits for
      // the levels below is not locked, and taking from it later would lock it after the levels,
      // the reverse of the order a write-off of it takes (lot, then levels), and deadlock with one.
      const lockedLots = new Set((await sql<{ id: string }>(
        em,
        'SELECT id FROM lot WHERE product_id = ANY(?::uuid[]) ORDER BY id FOR UPDATE',
        [uuidArray(productIds)],
      )).map((lot) => lot.id));
      // Then the products' levels, in the order every stock write takes them, before the plan is
      // read: a concurrent shipment may move this order's commitments (commitmentsFollowingTheGoods).
      const outside = await stockOutsideLots(em, productIds);
      // Read once they are locked, by a statement of its own: its snapshot has every pin and
      // change committed by the swaps and shipments this one waited for.
      const lots = await sql<LockedLot>(
        em,
        `SELECT id, code, product_id AS "productId", location_id AS "locationId", kind, status, grade, best_before::text AS "bestBefore", quantity,
                (SELECT coalesce(sum(p.quantity), 0) FROM lot_pick p WHERE p.lot_id = lot.id AND p.producer_order_id <> ?) AS "pinnedElsewhere"
           FROM lot WHERE id = ANY(?::uuid[]) ORDER BY id`,
        [input.producerOrderId, uuidArray(lockedLots)],
      );
      const plan = await this.picking.plan(em, order.producerId, { products: new Set(productIds), lots: lockedLots });
      const lines = plan.filter((l) => l.producerOrderId === input.producerOrderId);

      const shipments: Shipment[] = input.lines
        ? this.fromInput(lines, parsed, lots, new Map(products.map((p) => [p.id, p])))
        : lines.map((line) => ({ line, quantity: line.quantity, lots: suggested(line, line.quantity) }));

      const own = shipments.flatMap((s) => this.moves(input.producerOrderId, s, outside));
      requireUntrackedStock(own, outside, (productId) => {
        const index = shipments.findIndex((s) => s.line.productId === productId);
        return input.lines ? ['lines', index, 'quantity'] : ['producerOrderId'];
      });
      const ship = (moves: Move[]) => this.stock.apply(em, StockMovementKind.SHIP, now, moves, { kind: EventKind.SHIPPED }, { levelsLocked: true });
      // A refused apply changes nothing: only then are other orders' commitments worked out, and
      // moved to where this shipment frees stock, so a usual shipment is the one statement it was.
      let short = await ship(own);
      if (short.length > 0) {
        const follow = await commitmentsFollowingTheGoods(em, input.producerOrderId, own, plan);
        if (follow.length > 0) short = await ship([...own, ...follow]);
      }
      if (short.length > 0) {
        const index = shipments.findIndex((s) => s.line.productId === short[0]!.productId);
        const free = `only ${formatQuantity(short[0]!.available)} is free: the rest is held or committed to other orders`;
        // The plan suggested the lot (no lines, or a line without lots): the answer names what
        // the producer sent, not lots it did not, and says how to ship otherwise.
        if (!input.lines) {
          throw DomainError.of(UserErrorCode.INSUFFICIENT_STOCK,
            `a suggested lot is at a location where ${free}; name the lines to ship, with the lots to take (none: stock kept outside lots)`, ['producerOrderId']);
        }
        const line = Math.max(index, 0);
        if (!input.lines[line]?.lots) {
          throw DomainError.of(UserErrorCode.INSUFFICIENT_STOCK,
            `a suggested lot is at a location where ${free}; name the line's lots to take (none: stock kept outside lots)`, ['lines', line]);
        }
        throw DomainError.of(UserErrorCode.INSUFFICIENT_STOCK, `a lot is at a location where ${free}`, ['lines', line, 'lots']);
      }
      await this.takeFromLots(em, shipments);
      await sql(
        em,
        `INSERT INTO shipment_line (producer_order_id, product_id, ordered, quantity, weight_kg)
         SELECT ?, s.product_id, s.ordered, s.quantity, s.weight_kg FROM jsonb_to_recordset(?::jsonb) AS s(product_id uuid, ordered numeric, quantity numeric, weight_kg numeric)`,
        [input.producerOrderId, JSON.stringify(shipments.map((s) => ({
          product_id: s.line.productId, ordered: s.line.quantity.toFixed(), quantity: s.quantity.toFixed(), weight_kg: s.weightKg?.toFixed() ?? null,
        })))],
      );
      await this.fillCustomerLines(em, now, input.producerOrderId, shipments);
      await sql(em, 'DELETE FROM lot_pick WHERE producer_order_id = ?', [input.producerOrderId]);
      await sql(
        em,
        `UPDATE producer_order SET fulfilment_state = 'FULFILLED', shipped_at = ?, carrier = ?, tracking_reference = ?, shipment_request_hash = ? WHERE id = ?`,
        [now, input.carrier.trim(), input.trackingReference.trim(), requestHash, input.producerOrderId],
      );
      // What this shipment took may be what the plan gave another waiting order (stock kept outside
      // lots, when its criteria leave it no lot): planned again without this order, in this
      // transaction, none may be shorter than it was. Shipped as planned, none is.
      const after = await this.picking.plan(em, order.producerId, { products: new Set(productIds), lots: lockedLots });
      // Of this shipment's products, whose lots and levels it holds: others' may change meanwhile.
      const hurt = lineLeftShorter(plan.filter((l) => productIds.includes(l.productId)), after, (l) => l.producerOrderId === input.producerOrderId);
      if (hurt) {
        const index = shipments.findIndex((s) => s.line.productId === hurt.line.productId);
        throw DomainError.of(
          UserErrorCode.INSUFFICIENT_STOCK,
          `producer order ${hurt.line.producerOrderId} would be ${formatQuantity(hurt.more)} short after this shipment, which takes what it is to ship ` +
            "(see its pickLines): name the lots this one ships from, or ship less",
          input.lines ? ['lines', Math.max(index, 0), 'quantity'] : ['producerOrderId'],
        );
      }
    });
  }

  /** The shipment the producer described, checked against the order and the lots. */
  private fromInput(lines: PlannedLine[], parsed: ParsedLine[], lots: LockedLot[], products: Map<string, ProductSteps>): Shipment[] {
    const errors = new InputErrors();
    const seen = new Set<string>();
    const shipments: Shipment[] = [];
    for (const p of parsed) {
      const line = lines.find((l) => l.productId === p.productId);
      if (!line || seen.has(p.productId)) {
        errors.add(UserErrorCode.NOT_FOUND, line ? 'the product is listed twice' : 'the order has no line for this product', ['lines', p.index, 'productId']);
        continue;
      }
      seen.add(p.productId);
      if (p.amount.greaterThan(line.quantity)) {
        errors.invalid(`at most the ${formatQuantity(line.quantity)} ordered can ship`, ['lines', p.index, 'quantity']);
        continue;
      }
      // As it sells: what ships is shared out among the customers (the short fill), who bought
      // whole steps (half a lamb is no delivery). All that was ordered may ship whatever the step
      // is now: a step changed since the checkouts may not divide it.
      const product = products.get(line.productId)!;
      if (!p.amount.equals(line.quantity) && !p.amount.mod(product.sellableStep).isZero()) {
        errors.invalid(notWholeSteps(product.name, product.sellableStep, product.unit, p.amount), ['lines', p.index, 'quantity']);
        continue;
      }
      const picked: (Shipment['lots'][number] & { lot: LockedLot; entry: number })[] = [];
      (p.lots ?? []).forEach((choice, j) => {
        const field: FieldPath = ['lines', p.index, 'lots', j, 'lotId'];
        const lot = lots.find((l) => l.id === choice.lotId && l.productId === line.productId);
        if (!lot) return errors.add(UserErrorCode.NOT_FOUND, `no lot of this product with id "${choice.lotId}"`, field);
        if (lot.status !== LotStatus.RELEASED) return errors.invalid(`lot ${lot.code} is in ${lot.status}`, field);
        const unmet = unmetCriteria(lot, line.criteria, line.deliveryDay);
        if (unmet.length > 0) return errors.invalid(`lot ${lot.code} does not meet the line's criteria: ${unmet.join('; ')}`, field);
        picked.push({ lotId: lot.id, locationId: lot.locationId, quantity: p.lotAmounts[j]!, lot, entry: j });
      });
      // Each lot once, however many entries name it: what they add up to is what leaves the lot.
      for (const lot of new Set(picked.map((l) => l.lot))) {
        const entries = picked.filter((l) => l.lot === lot);
        const taken = Decimal.sum(0, ...entries.map((l) => l.quantity));
        const free = new Decimal(lot.quantity).minus(lot.pinnedElsewhere);
        const field: FieldPath = ['lines', p.index, 'lots', entries[0]!.entry, 'quantity'];
        if (lot.kind === LotKind.ITEM && !(taken.equals(lot.quantity) && free.equals(lot.quantity))) {
          errors.invalid(`lot ${lot.code} is a unique item: it ships whole (${formatQuantity(lot.quantity)}) or not at all${free.equals(lot.quantity) ? '' : ', and another order has picked it'}`, field);
        } else if (taken.greaterThan(free)) {
          errors.add(UserErrorCode.INSUFFICIENT_STOCK, `lot ${lot.code} has ${formatQuantity(Decimal.max(free, 0))} free (${formatQuantity(lot.quantity)} left, the rest picked for other orders)`, field);
        }
      }
      const fromLots = Decimal.sum(0, ...picked.map((l) => l.quantity));
      if (fromLots.greaterThan(p.amount)) errors.invalid('the lots add up to more than the quantity shipped', ['lines', p.index, 'lots']);
      shipments.push({ line, quantity: p.amount, weightKg: p.weight, lots: p.lots ? picked.map(({ lotId, locationId, quantity }) => ({ lotId, locationId, quantity })) : suggested(line, p.amount) });
    }
    lines.forEach((line) => {
      if (!seen.has(line.productId)) errors.invalid(`every line must be listed; product ${line.productId} is missing (ship 0 to send none)`, ['lines']);
    });
    errors.throwIfAny();
    return shipments;
  }

  /**
   * The ledger rows of one product's shipment: the whole commitment ends where it was made, and
   * what shipped leaves stock on hand at the lots' locations. What no named lot covers leaves the
   * stock kept outside lots, where the pick list put it (as much as it put there: the plan shares
   * each location out among the orders) and then where the order's stock is committed: a hold
   * split over two locations, say, whose lot at one of them shipped less.
   */
  private moves(producerOrderId: string, shipment: Shipment, outside: (productId: string, locationId: string) => Decimal): Move[] {
    const { line } = shipment;
    const moves: Move[] = line.committed.map((c) => ({ productId: line.productId, locationId: c.locationId, committedDelta: c.quantity.negated(), producerOrderId }));
    for (const lot of shipment.lots) {
      moves.push({ productId: line.productId, locationId: lot.locationId, lotId: lot.lotId, onHandDelta: lot.quantity.negated(), producerOrderId });
    }
    let untracked = shipment.quantity.minus(Decimal.sum(0, ...shipment.lots.map((l) => l.quantity)));
    const taken = new Map<string, Decimal>();
    const take = (locationId: string, wanted: Decimal) => {
      const q = Decimal.min(wanted, outside(line.productId, locationId).minus(taken.get(locationId) ?? 0));
      if (q.lessThanOrEqualTo(0)) return;
      taken.set(locationId, (taken.get(locationId) ?? new Decimal(0)).plus(q));
      untracked = untracked.minus(q);
    };
    for (const planned of line.untracked) take(planned.locationId, Decimal.min(untracked, planned.quantity));
    const places = [...new Set([...line.untracked.map((u) => u.locationId), ...line.committed.map((c) => c.locationId)])];
    for (const locationId of places) take(locationId, untracked);
    for (const [locationId, q] of taken) moves.push({ productId: line.productId, locationId, onHandDelta: q.negated(), producerOrderId });
    // More than is kept outside lots anywhere it could come from: requireUntrackedStock refuses it.
    if (untracked.greaterThan(0) && places[0]) {
      moves.push({ productId: line.productId, locationId: places[0], onHandDelta: untracked.negated(), producerOrderId });
    }
    return moves;
  }

  private async takeFromLots(em: EntityManager, shipments: Shipment[]): Promise<void> {
    const taken = shipments.flatMap((s) => s.lots).map((l) => ({ lot_id: l.lotId, quantity: l.quantity.toFixed() }));
    if (taken.length === 0) return;
    await sql(
      em,
      `UPDATE lot SET quantity = lot.quantity - t.quantity
         FROM (SELECT lot_id, sum(quantity) AS quantity FROM jsonb_to_recordset(?::jsonb) AS t(lot_id uuid, quantity numeric) GROUP BY lot_id) t
        WHERE lot.id = t.lot_id`,
      [JSON.stringify(taken)],
    );
  }

  /** Sets what each customer line really gets, sharing any shortage out by the short-fill rule, and tells the hub. */
  private async fillCustomerLines(em: EntityManager, now: Date, producerOrderId: string, shipments: Shipment[]): Promise<void> {
    const claims = await sql<{ lineId: string; customerOrderId: string; productId: string; quantity: string; priority: boolean; orderedAt: string; arrivalSeq: string | null }>(
      em,
      `SELECT l.id AS "lineId", l.customer_order_id AS "customerOrderId", l.product_id AS "productId", l.quantity,
              coalesce(c.priority, false) AS priority,
              -- A changed basket stands where its first checkout stood (hold_started_at, first_arrival_seq).
              coalesce(o.hold_started_at, o.created_at) AS "orderedAt", coalesce(o.first_arrival_seq, o.arrival_seq)::text AS "arrivalSeq"
         FROM customer_order_line l
         JOIN customer_order o ON o.id = l.customer_order_id
         LEFT JOIN hub_customer c ON c.hub_id = o.hub_id AND c.customer_ref = o.customer_ref
        WHERE l.producer_order_id = ? AND o.status = 'CONFIRMED'`,
      [producerOrderId],
    );
    const fills: { id: string; fulfilled: string }[] = [];
    const events: EventRecord[] = [];
    for (const shipment of shipments) {
      const shortage = shipment.line.quantity.minus(shipment.quantity);
      const lines = claims.filter((c) => c.productId === shipment.line.productId)
        .map((c) => ({ ...c, quantity: new Decimal(c.quantity), orderedAt: instant(c.orderedAt), arrivalSeq: c.arrivalSeq === null ? null : BigInt(c.arrivalSeq) }));
      for (const cut of allocateShortage(shortage, lines)) {
        fills.push({ id: cut.lineId, fulfilled: cut.fulfilled.toFixed() });
        if (cut.lost.greaterThan(0)) {
          events.push({ kind: EventKind.SHORT_FILLED, productId: shipment.line.productId, producerOrderId, customerOrderId: cut.customerOrderId, quantity: cut.lost.toFixed() });
        }
      }
    }
    await sql(
      em,
      `UPDATE customer_order_line l SET fulfilled_quantity = f.fulfilled
         FROM jsonb_to_recordset(?::jsonb) AS f(id uuid, fulfilled numeric) WHERE l.id = f.id`,
      [JSON.stringify(fills)],
    );
    await appendEvents(em, now, events);
  }
}

/**
 * What a shipment takes without naming a lot must be stock kept outside lots where it is taken.
 * Otherwise the goods really came out of a lot the shipment does not name (one that fails the
 * line's criteria, say), and that lot would go on claiming them.
 */
function requireUntrackedStock(moves: Move[], outside: (productId: string, locationId: string) => Decimal, fieldOf: (productId: string) => FieldPath): void {
  const taken = new Map<string, Move & { quantity: Decimal }>();
  for (const move of moves.filter((m) => !m.lotId && m.onHandDelta?.isNegative())) {
    const key = `${move.productId} ${move.locationId}`;
    const sum = taken.get(key)?.quantity ?? new Decimal(0);
    taken.set(key, { ...move, quantity: sum.minus(move.onHandDelta!) });
  }
  for (const { productId, locationId, quantity } of taken.values()) {
    const free = outside(productId, locationId);
    if (quantity.greaterThan(free)) {
      throw DomainError.of(
        UserErrorCode.INSUFFICIENT_STOCK,
        `${formatQuantity(quantity)} would ship from stock kept outside lots, and only ${formatQuantity(free)} is: ` +
          "name the lots it ships from (each must meet the line's criteria), or ship less",
        fieldOf(productId),
      );
    }
  }
}

type ParsedLine = ShipLineFields & { index: number; amount: Decimal; weight?: Decimal; lotAmounts: (Decimal | undefined)[] };

/**
 * The planned lots of a line, taken in order up to `quantity`; a unique item only if it fits
 * whole (the rest then ships from stock kept outside lots, if there is that much).
 */
function suggested(line: PlannedLine, quantity: Decimal): Shipment['lots'] {
  const lots: Shipment['lots'] = [];
  let left = quantity;
  for (const pick of line.picks) {
    if (left.lessThanOrEqualTo(0)) break;
    if (pick.whole && pick.quantity.greaterThan(left)) continue;
    const take = Decimal.min(left, pick.quantity);
    lots.push({ lotId: pick.lotId, locationId: pick.locationId, quantity: take });
    left = left.minus(take);
  }
  return lots;
}

/** A shipped quantity: like any quantity, but zero is allowed (nothing of it could be sent). */
function shippedQuantity(raw: string, field: FieldPath, errors: InputErrors): Decimal {
  if (/^\s*0+(\.0+)?\s*$/.test(raw)) return new Decimal(0);
  return parseQuantity(raw, field, errors) ?? new Decimal(0);
}

function orderNotFound(id: string): DomainError {
  return DomainError.of(UserErrorCode.NOT_FOUND, `no producer order with id "${id}"`, ['producerOrderId']);
}

/**
 * A digest of the shipment as asked for, the same however it is spelt (text trimmed, quantities
 * as exact decimals, lines and lots in a set order, entries naming one lot added up, as shipping
 * adds them): a retry matches it, a corrected shipment does not. A line without `lots` (the
 * suggested lots) and one with none (nothing from lots) are different shipments.
 */
function hashShipment(input: ShipFields, parsed: ParsedLine[]): string {
  const byId = <T extends [string, ...unknown[]]>(rows: T[]) => rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const lotsOf = (line: ParsedLine) => {
    if (line.lots === null || line.lots === undefined) return null;
    const sums = new Map<string, Decimal>();
    line.lots.forEach((lot, i) => sums.set(lot.lotId, (sums.get(lot.lotId) ?? new Decimal(0)).plus(line.lotAmounts[i] ?? 0)));
    return byId([...sums].map(([lotId, amount]): [string, string] => [lotId, amount.toFixed()]));
  };
  const lines = input.lines === null || input.lines === undefined
    ? null
    : byId(parsed.map((line): [string, string, string | null, [string, string][] | null] =>
        [line.productId, line.amount.toFixed(), line.weight?.toFixed() ?? null, lotsOf(line)]));
  const canonical = { carrier: input.carrier.trim(), trackingReference: input.trackingReference.trim(), lines };
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/** A product the order ships, as its quantities are checked: the steps it sells in. */
interface ProductSteps {
  id: string;
  name: string;
  unit: string;
  sellableStep: string;
}
