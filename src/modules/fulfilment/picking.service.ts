import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { DateTime } from 'luxon';
import { requireProducer } from '../../auth/policy.js';
import { appendEvents, EventKind } from '../../events/event-log.js';
import { DomainError, type FieldPath, UserErrorCode } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { formatQuantity } from '../../shared/quantity.js';
import type { RequestContext } from '../../shared/request-context.js';
import { concurrently, instant, sql, uuidArray } from '../../shared/sql.js';
import { requireDeliveryDay, unmetCriteria } from '../lots/lot-criteria.js';
import { type LotGrade, LotKind, LotStatus } from '../lots/lot.entity.js';
import type { LotCandidate, LotStrategy } from '../lots/lot-strategy.js';
import { type StockAt, stockAtLocations } from '../lots/stock-outside-lots.js';
import { lockLevels } from '../stock/level-locks.js';
import { lineLeftShorter, type OpenOrder, type PinnedPick, type PlannedLine, type PlannedPick, planPicks, quantityAt } from './pick-planner.js';

/** One product in a pick list: the total to pick, and from which lots and locations. */
export interface PickItem {
  productId: string;
  quantity: Decimal;
  picks: { lotId: string; locationId: string; quantity: Decimal; pinned: boolean }[];
  untracked: { locationId: string; quantity: Decimal }[];
  /** Ordered, and covered neither by a suitable lot nor by stock kept outside lots (not in a zone). */
  short: Decimal;
}

export interface PickList {
  producerId: string;
  deliveryDay: string;
  /** The batch view: each product once, the total over every hub and session delivering that day. */
  items: PickItem[];
  /** The zone view: what to pick at each location. */
  zones: { locationId: string; items: PickItem[] }[];
  /** Waves: one per hub delivery, in delivery order. */
  waves: { deliversAt: DateTime; hubId: string; producerOrderIds: string[]; items: PickItem[] }[];
}

interface OrderRow {
  id: string;
  hubId: string;
  deliversAt: string;
  timeZone: string;
}

/**
 * Picking: which lots each open producer order should take (suggested by the lot strategy, kept
 * when a picker swaps one), and the pick lists built from that one plan.
 */
export class PickingService {
  constructor(private readonly lotStrategy: LotStrategy) {}

  /**
   * The plan for every open (UNFULFILLED) order of a producer; see planPicks(). With `only`, the
   * lots of `only.products` other than `only.lots` are left out, as if they were not there: a
   * shipment plans with the lots it has locked.
   */
  async plan(em: EntityManager, producerId: string, only?: { products: ReadonlySet<string>; lots: ReadonlySet<string> }): Promise<PlannedLine[]> {
    return (await this.planWithStock(em, producerId, only)).lines;
  }

  /** plan(), with what no open session holds at each location, as the plan read it. */
  private async planWithStock(
    em: EntityManager,
    producerId: string,
    only?: { products: ReadonlySet<string>; lots: ReadonlySet<string> },
  ): Promise<{ lines: PlannedLine[]; unheld: StockAt }> {
    const orders = await sql<OrderRow>(
      em,
      `SELECT po.id, po.hub_id AS "hubId", coalesce(s.delivers_at, s.closes_at) AS "deliversAt", s.time_zone AS "timeZone"
         FROM producer_order po JOIN sales_session s ON s.id = po.sales_session_id
        WHERE po.producer_id = ? AND po.fulfilment_state = 'UNFULFILLED'
        ORDER BY coalesce(s.delivers_at, s.closes_at), po.completed_at, po.id`,
      [producerId],
    );
    if (orders.length === 0) return { lines: [], unheld: () => new Decimal(0) };
    const ids = uuidArray(orders.map((o) => o.id));
    const [lines, committed, lots, pins] = await concurrently(em, [
      () => sql<{ producerOrderId: string; productId: string; minGrade: LotGrade | null; minShelfLifeDays: number | null; quantity: string }>(
        em,
        `SELECT l.producer_order_id AS "producerOrderId", l.product_id AS "productId", f.min_grade AS "minGrade",
                f.min_shelf_life_days AS "minShelfLifeDays", sum(l.quantity) AS quantity
           FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id JOIN offer f ON f.id = l.offer_id
          WHERE l.producer_order_id = ANY(?::uuid[]) AND o.status = 'CONFIRMED'
          GROUP BY l.producer_order_id, l.product_id, f.min_grade, f.min_shelf_life_days
          ORDER BY l.product_id`,
        [ids],
      ),
      () => sql<{ producerOrderId: string; productId: string; locationId: string; quantity: string }>(
        em,
        `SELECT m.producer_order_id AS "producerOrderId", m.product_id AS "productId", m.location_id AS "locationId",
                sum(m.committed_delta) AS quantity
           FROM stock_movement m JOIN location l ON l.id = m.location_id
          WHERE m.producer_order_id = ANY(?::uuid[])
          GROUP BY m.producer_order_id, m.product_id, m.location_id, l.priority HAVING sum(m.committed_delta) > 0
          ORDER BY l.priority, m.location_id`,
        [ids],
      ),
      () => this.candidates(em, producerId).then((lots) => (only ? lots.filter((lot) => !only.products.has(lot.productId) || only.lots.has(lot.id)) : lots)),
      () => sql<{ producerOrderId: string; productId: string; lotId: string; quantity: string; replacedLotId: string | null }>(
        em,
        `SELECT producer_order_id AS "producerOrderId", product_id AS "productId", lot_id AS "lotId", quantity,
                replaced_lot_id AS "replacedLotId"
           FROM lot_pick WHERE producer_order_id = ANY(?::uuid[]) ORDER BY created_at, id`,
        [ids],
      ),
    ] as const);
    const open: OpenOrder[] = orders.map((o) => {
      const deliversAt = DateTime.fromJSDate(instant(o.deliversAt), { zone: o.timeZone });
      return {
        producerOrderId: o.id,
        hubId: o.hubId,
        deliversAt,
        deliveryDay: deliversAt.toISODate()!,
        lines: lines.filter((l) => l.producerOrderId === o.id).map((l) => ({
          productId: l.productId,
          quantity: new Decimal(l.quantity),
          criteria: { minGrade: l.minGrade, minShelfLifeDays: l.minShelfLifeDays },
          committed: committed
            .filter((c) => c.producerOrderId === o.id && c.productId === l.productId)
            .map((c) => ({ locationId: c.locationId, quantity: new Decimal(c.quantity) })),
        })),
      };
    });
    const pinned: PinnedPick[] = pins.map((p) => ({ ...p, quantity: new Decimal(p.quantity) }));
    // With what no open session holds at each location: holds never move, so picks stay within it.
    const { outside, unheld } = await stockAtLocations(em, [...new Set(lines.map((l) => l.productId))], { lock: false });
    return { lines: planPicks(this.lotStrategy, open, lots, pinned, outside, unheld), unheld };
  }

  /**
   * Runs a stock write and refuses it if the producer's orders waiting to be picked, planned
   * again after it in its transaction, leave one of them shorter of the product than before
   * (PlanGuard): what a transfer or write-off takes must not be what an order ships, or the
   * room its lots need.
   */
  async guardPlan<T>(
    em: EntityManager,
    { producerId, productId }: { producerId: string; productId: string },
    field: FieldPath,
    write: (planned: readonly PlannedLine[]) => Promise<T>,
  ): Promise<T> {
    // Most writes are of a product no order waits to pick: no plan to read then.
    const [waiting] = await sql(
      em,
      `SELECT 1 FROM producer_order po JOIN customer_order_line l ON l.producer_order_id = po.id
        WHERE po.producer_id = ? AND po.fulfilment_state = 'UNFULFILLED' AND l.product_id = ? LIMIT 1`,
      [producerId, productId],
    );
    if (!waiting) return write([]);
    const planned = async () => (await this.plan(em, producerId)).filter((line) => line.productId === productId);
    const before = await planned();
    const result = await write(before);
    if (before.length === 0) return result;
    const hurt = lineLeftShorter(before, await planned(), () => false);
    if (hurt) {
      throw DomainError.of(
        UserErrorCode.INSUFFICIENT_STOCK,
        `producer order ${hurt.line.producerOrderId}, waiting to be picked, would be ${formatQuantity(hurt.more)} short after this: ` +
          'it ships that stock kept outside lots, or needs its room (see its pickLines)',
        field,
      );
    }
    return result;
  }

  /**
   * The planned lines of these producer orders, with their suggested lots. The plan is made once
   * per producer, however many of its orders are asked for (a list of orders is one batch).
   */
  async linesOf(em: EntityManager, producerOrderIds: readonly string[]): Promise<PlannedLine[]> {
    const ids = producerOrderIds.filter(isUuid);
    if (ids.length === 0) return [];
    const producers = await sql<{ producerId: string }>(
      em,
      'SELECT DISTINCT producer_id AS "producerId" FROM producer_order WHERE id = ANY(?::uuid[])',
      [uuidArray(ids)],
    );
    const plans = await Promise.all(producers.map((p) => this.plan(em, p.producerId)));
    const wanted = new Set(ids);
    return plans.flat().filter((line) => wanted.has(line.producerOrderId));
  }

  /** The pick list of a producer for one delivery day (YYYY-MM-DD, in each session's own time zone). */
  async pickList(ctx: RequestContext, producerId: string, deliveryDay: string): Promise<PickList> {
    requireDeliveryDay(deliveryDay);
    if (!isUuid(producerId)) throw DomainError.of(UserErrorCode.NOT_FOUND, `no producer with id "${producerId}"`, ['producerId']);
    requireProducer(ctx.actor, producerId, 'producerId');
    await requireProducerExists(ctx.em, producerId);
    const lines = (await this.plan(ctx.em, producerId)).filter((l) => l.deliveryDay === deliveryDay);

    const waves = new Map<string, PickList['waves'][number] & { lines: PlannedLine[] }>();
    for (const line of lines) {
      const key = `${line.deliversAt.toMillis()} ${line.hubId}`;
      const wave = waves.get(key) ?? { deliversAt: line.deliversAt, hubId: line.hubId, producerOrderIds: [], items: [], lines: [] };
      if (!wave.producerOrderIds.includes(line.producerOrderId)) wave.producerOrderIds.push(line.producerOrderId);
      wave.lines.push(line);
      waves.set(key, wave);
    }
    const locations = [...new Set(lines.flatMap((l) => [...l.picks.map((p) => p.locationId), ...l.untracked.map((u) => u.locationId)]))];
    const priorities = await this.locationOrder(ctx.em, locations);
    return {
      producerId,
      deliveryDay,
      items: summarise(lines),
      zones: priorities.map((locationId) => ({ locationId, items: summarise(lines, locationId) })),
      waves: [...waves.values()].map(({ lines: waveLines, ...wave }) => ({ ...wave, items: summarise(waveLines) })),
    };
  }

  /**
   * A picker takes another lot than the one suggested for a line. Accepted only if the new lot is
   * of the same product, released, meets the line's criteria, and has the quantity free (not pinned
   * to another order). The whole line is then pinned, so the choice stays, and the swap is an event.
   */
  async swapLot(ctx: RequestContext, input: { producerOrderId: string; productId: string; fromLotId: string; toLotId: string }): Promise<void> {
    const order = await this.findOrder(ctx.em, input.producerOrderId);
    if (!order) throw DomainError.of(UserErrorCode.NOT_FOUND, `no producer order with id "${input.producerOrderId}"`, ['producerOrderId']);
    requireProducer(ctx.actor, order.producerId, 'producerOrderId');
    for (const field of ['productId', 'fromLotId', 'toLotId'] as const) {
      if (!isUuid(input[field])) throw DomainError.of(UserErrorCode.NOT_FOUND, `no such id "${input[field]}"`, [field]);
    }
    await ctx.em.transactional(async (em) => {
      // The order, then the product's lots, in id order: swaps and shipments of this product queue here.
      const [locked] = await sql<{ fulfilmentState: string }>(em, 'SELECT fulfilment_state AS "fulfilmentState" FROM producer_order WHERE id = ? FOR UPDATE', [input.producerOrderId]);
      if (locked?.fulfilmentState !== 'UNFULFILLED') {
        throw DomainError.of(UserErrorCode.INVALID_STATE, `lots can be swapped only while the order waits to be picked (it is ${locked?.fulfilmentState})`, ['producerOrderId']);
      }
      // Only the producer's own product's lots: a lot named from elsewhere is never locked (it
      // would hold up its owner's shipments for this transaction), and is no lot of this line.
      const lots = await sql<{ id: string; kind: LotKind; status: LotStatus; grade: LotGrade; bestBefore: string | null; quantity: string; code: string; locationId: string }>(
        em,
        `SELECT id, kind, status, grade, best_before::text AS "bestBefore", quantity, code, location_id AS "locationId"
           FROM lot WHERE product_id = (SELECT id FROM product WHERE id = ? AND producer_id = ?) ORDER BY id FOR UPDATE`,
        [input.productId, order.producerId],
      );
      // Then its levels, before the plan is read: a transfer or write-off reads the plan under
      // them, so the two run one after the other and each sees what the other did. (No lots: the
      // product is another producer's, or has none to swap to; its levels are left alone.)
      if (lots.length > 0) await lockLevels(em, [input.productId]);
      const { lines: planned, unheld } = await this.planWithStock(em, order.producerId);
      const line = planned.find((l) => l.producerOrderId === input.producerOrderId && l.productId === input.productId);
      if (!line) throw DomainError.of(UserErrorCode.NOT_FOUND, 'this producer order has no line for the product', ['productId']);
      const from = line.picks.find((p) => p.lotId === input.fromLotId);
      // This very swap, already made (a retry whose answer was lost): the line picks the new lot in
      // the old one's place. Nothing to do, and nothing to refuse.
      if (!from && line.picks.some((p) => p.lotId === input.toLotId && p.pinned && p.replacedLotId === input.fromLotId)) return;
      if (!from) throw DomainError.of(UserErrorCode.INVALID_INPUT, 'that lot is not picked for this line', ['fromLotId']);
      if (input.toLotId === input.fromLotId) throw DomainError.of(UserErrorCode.INVALID_INPUT, 'the lot to pick instead is the same lot', ['toLotId']);
      const to = lots.find((l) => l.id === input.toLotId);
      if (!to) throw DomainError.of(UserErrorCode.NOT_FOUND, `no lot of this product with id "${input.toLotId}"`, ['toLotId']);
      if (to.status !== LotStatus.RELEASED) throw DomainError.of(UserErrorCode.INVALID_INPUT, `lot ${to.code} is in ${to.status}: only released lots can be picked`, ['toLotId']);
      const unmet = unmetCriteria(to, line.criteria, line.deliveryDay);
      if (unmet.length > 0) throw DomainError.of(UserErrorCode.INVALID_INPUT, `lot ${to.code} does not meet the line's criteria: ${unmet.join('; ')}`, ['toLotId']);
      const [pinnedElsewhere] = await sql<{ quantity: string }>(
        em,
        'SELECT coalesce(sum(quantity), 0) AS quantity FROM lot_pick WHERE lot_id = ? AND NOT (producer_order_id = ? AND product_id = ?)',
        [to.id, input.producerOrderId, input.productId],
      );
      const alreadyHere = line.picks.filter((p) => p.lotId === to.id).reduce((sum, p) => sum.plus(p.quantity), new Decimal(0));
      const free = new Decimal(to.quantity).minus(pinnedElsewhere!.quantity);
      if (free.lessThan(alreadyHere.plus(from.quantity))) {
        throw DomainError.of(UserErrorCode.INSUFFICIENT_STOCK, `lot ${to.code} has ${formatQuantity(free.minus(alreadyHere))} free, ${formatQuantity(from.quantity)} is needed`, ['toLotId']);
      }
      if (to.kind === LotKind.ITEM && !alreadyHere.plus(from.quantity).equals(to.quantity)) {
        throw DomainError.of(UserErrorCode.INVALID_INPUT, `lot ${to.code} is a unique item of ${formatQuantity(to.quantity)}: it is picked whole or not at all`, ['toLotId']);
      }

      const picks = line.picks.filter((p) => p.lotId !== from.lotId && p.lotId !== to.id);
      picks.push({ lotId: to.id, locationId: to.locationId, quantity: alreadyHere.plus(from.quantity), pinned: true, replacedLotId: from.lotId, whole: to.kind === LotKind.ITEM });
      refuseWhereOpenSessionsHold(unheld(input.productId, to.locationId), to, picks, planned.filter((l) => l !== line && l.productId === input.productId));
      await sql(em, 'DELETE FROM lot_pick WHERE producer_order_id = ? AND product_id = ?', [input.producerOrderId, input.productId]);
      const now = ctx.clock.now();
      await sql(
        em,
        `INSERT INTO lot_pick (id, created_at, producer_order_id, product_id, lot_id, quantity, replaced_lot_id)
         SELECT gen_random_uuid(), ?, ?, ?, p.lot_id, p.quantity, p.replaced_lot_id
           FROM jsonb_to_recordset(?::jsonb) AS p(lot_id uuid, quantity numeric, replaced_lot_id uuid)`,
        [now, input.producerOrderId, input.productId,
          JSON.stringify(picks.map((p) => ({ lot_id: p.lotId, quantity: p.quantity.toFixed(), replaced_lot_id: p.replacedLotId })))],
      );
      // Pins come first in the plan: a lot taken from under another order whose criteria leave it
      // no other (an EXTRA line, when the rest is CLASS_II) would leave that order short.
      // Of this product, whose lots and levels the swap holds: others' may change meanwhile.
      const hurt = lineLeftShorter(planned.filter((l) => l.productId === line.productId), await this.plan(em, order.producerId), (l) => l.producerOrderId === line.producerOrderId);
      if (hurt) {
        throw DomainError.of(
          UserErrorCode.INSUFFICIENT_STOCK,
          `producer order ${hurt.line.producerOrderId} needs lot ${to.code}, and would be ${formatQuantity(hurt.more)} short without it (see its pickLines): pick another lot`,
          ['toLotId'],
        );
      }
      await appendEvents(em, now, [{
        kind: EventKind.LOT_SWAPPED, productId: input.productId, producerOrderId: input.producerOrderId, lotId: to.id, quantity: from.quantity.toFixed(),
      }]);
    });
  }

  /** Released lots of a producer's products with something left, as the planner sees them. */
  private async candidates(em: EntityManager, producerId: string): Promise<LotCandidate[]> {
    const rows = await sql<{ id: string; code: string; productId: string; locationId: string; kind: LotKind; grade: LotGrade;
      harvestedOn: string | null; bestBefore: string | null; quantity: string }>(
      em,
      `SELECT l.id, l.code, l.product_id AS "productId", l.location_id AS "locationId", l.kind, l.grade,
              l.harvested_on::text AS "harvestedOn", l.best_before::text AS "bestBefore", l.quantity
         FROM lot l JOIN product p ON p.id = l.product_id
        WHERE p.producer_id = ? AND l.status = 'RELEASED' AND l.quantity > 0`,
      [producerId],
    );
    return rows.map(({ quantity, ...lot }) => ({ ...lot, free: new Decimal(quantity) }));
  }

  private async findOrder(em: EntityManager, id: string): Promise<{ producerId: string; hubId: string } | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await sql<{ producerId: string; hubId: string }>(em, 'SELECT producer_id AS "producerId", hub_id AS "hubId" FROM producer_order WHERE id = ?', [id]);
    return row;
  }

  private async locationOrder(em: EntityManager, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await sql<{ id: string }>(em, 'SELECT id FROM location WHERE id = ANY(?::uuid[]) ORDER BY priority, name, id', [uuidArray(ids)]);
    return rows.map((r) => r.id);
  }
}

/**
 * A swap pins the whole line. Pins take their location's room first (what no open session holds
 * there: holds never move), so a pin past that room could never ship as planned. Refused here,
 * while the picker can still choose another lot, rather than when the order ships.
 */
function refuseWhereOpenSessionsHold(
  unheld: Decimal,
  to: { locationId: string; code: string },
  linePicks: readonly PlannedPick[],
  otherLines: readonly PlannedLine[],
): void {
  const wanted = quantityAt(linePicks, to.locationId);
  // Other lines' pins stay, and so does what they ship from stock kept outside lots there (it is
  // committed there: commitmentsFollowingTheGoods leaves it), like the holds.
  const pinned = quantityAt(otherLines.flatMap((l) => l.picks.filter((p) => p.pinned)), to.locationId);
  const room = Decimal.max(unheld.minus(pinned).minus(quantityAt(otherLines.flatMap((l) => l.untracked), to.locationId)), 0);
  if (wanted.greaterThan(room)) {
    throw DomainError.of(
      UserErrorCode.INSUFFICIENT_STOCK,
      `open sessions or other orders hold the stock where lot ${to.code} is: ${formatQuantity(room)} can be picked there, the line would pick ${formatQuantity(wanted)}; choose a lot at another location`,
      ['toLotId'],
    );
  }
}

/**
 * Adds up planned lines per product (only what is at `locationId`, when given: what is short is
 * at no location, and shows in the views that are not by location).
 */
function summarise(lines: readonly PlannedLine[], locationId?: string): PickItem[] {
  const items = new Map<string, PickItem>();
  for (const line of lines) {
    const item = items.get(line.productId) ?? { productId: line.productId, quantity: new Decimal(0), picks: [], untracked: [], short: new Decimal(0) };
    if (!locationId) item.short = item.short.plus(line.short);
    for (const pick of line.picks) {
      if (locationId && pick.locationId !== locationId) continue;
      const same = item.picks.find((p) => p.lotId === pick.lotId);
      if (same) same.quantity = same.quantity.plus(pick.quantity);
      else item.picks.push({ lotId: pick.lotId, locationId: pick.locationId, quantity: pick.quantity, pinned: pick.pinned });
      item.quantity = item.quantity.plus(pick.quantity);
    }
    for (const part of line.untracked) {
      if (locationId && part.locationId !== locationId) continue;
      const same = item.untracked.find((u) => u.locationId === part.locationId);
      if (same) same.quantity = same.quantity.plus(part.quantity);
      else item.untracked.push({ ...part });
      item.quantity = item.quantity.plus(part.quantity);
    }
    if (item.quantity.greaterThan(0) || item.short.greaterThan(0)) items.set(line.productId, item);
  }
  return [...items.values()];
}

/**
 * A producer's pick or pack list is refused, not empty, when there is no such producer: a
 * producer can only name itself, but an admin (or a hub, for a pack list) can name one that does
 * not exist.
 */
export async function requireProducerExists(em: EntityManager, producerId: string): Promise<void> {
  const [producer] = await sql(em, 'SELECT 1 FROM producer WHERE id = ?', [producerId]);
  if (!producer) throw DomainError.of(UserErrorCode.NOT_FOUND, `no producer with id "${producerId}"`, ['producerId']);
}
