import { Decimal } from 'decimal.js';
import type { DateTime } from 'luxon';
import { type LotCriteria, meetsCriteria } from '../lots/lot-criteria.js';
import { LotKind } from '../lots/lot.entity.js';
import type { LotCandidate, LotStrategy } from '../lots/lot-strategy.js';

/** A producer order waiting to be picked, with its lines. */
export interface OpenOrder {
  producerOrderId: string;
  hubId: string;
  /** In the session's time zone. */
  deliversAt: DateTime;
  /** The delivery's calendar day in the session's time zone (YYYY-MM-DD). */
  deliveryDay: string;
  lines: OpenLine[];
}

export interface OpenLine {
  productId: string;
  quantity: Decimal;
  criteria: LotCriteria;
  /** Where the line's stock is committed, first choice first. */
  committed: { locationId: string; quantity: Decimal }[];
}

/** A lot a picker chose for a line (after a swap); the plan keeps it. */
export interface PinnedPick {
  producerOrderId: string;
  productId: string;
  lotId: string;
  quantity: Decimal;
  replacedLotId: string | null;
}

export interface PlannedPick {
  lotId: string;
  locationId: string;
  quantity: Decimal;
  /** Chosen by a picker rather than suggested. */
  pinned: boolean;
  replacedLotId: string | null;
  /** A unique item: it goes whole or not at all. */
  whole: boolean;
}

export interface PlannedLine extends OpenLine {
  producerOrderId: string;
  hubId: string;
  deliversAt: DateTime;
  deliveryDay: string;
  picks: PlannedPick[];
  /** What no lot covers: picked from stock kept outside lots, at these locations. */
  untracked: { locationId: string; quantity: Decimal }[];
  /** What neither a lot that meets the criteria nor stock kept outside lots covers. */
  short: Decimal;
}

/**
 * Suggests the lots to pick for every open order of one producer. Orders are served in delivery
 * order, so the earliest delivery gets the first lots the strategy ranks. Only released lots that
 * meet a line's criteria for its delivery day are suggested; a unique item is suggested only
 * whole. Lots a picker pinned stay where they were pinned, and nobody else is given them.
 *
 * What every order together picks at a location (lots and stock kept outside lots) stays within
 * what no open session holds there (`unheld`: on hand less held). Holds never move, so more could
 * not all ship; within it, each shipment as planned can ship: where it takes stock another order's
 * stock is committed, that order's picks elsewhere leave room for its commitment to move to
 * (commitmentsFollowingTheGoods()), and what the orders take there from stock kept outside lots,
 * which stays committed, is within what is left. Pins take their room first, then the orders in
 * delivery order. Where nothing is held this binds only if the lots there claim more than is on
 * hand: otherwise the lots and the stock outside them are all there is.
 * A pure function of its inputs, so every view of the plan (per order, batch, zone, wave) agrees.
 */
export function planPicks(
  strategy: LotStrategy,
  orders: readonly OpenOrder[],
  lots: readonly LotCandidate[],
  pins: readonly PinnedPick[],
  outsideLots: (productId: string, locationId: string) => Decimal,
  unheld: (productId: string, locationId: string) => Decimal,
): PlannedLine[] {
  const free = new Map(lots.map((lot) => [lot.id, lot.free]));
  // Stock kept outside lots at each location, shared out in delivery order like the lots.
  const outside = new Map<string, Decimal>();
  const room = new Room(unheld);
  const outsideLeft = (productId: string, locationId: string): Decimal => outside.get(`${productId} ${locationId}`) ?? outsideLots(productId, locationId);
  const takeOutside = (productId: string, locationId: string, wanted: Decimal): Decimal => {
    const left = outsideLeft(productId, locationId);
    const take = Decimal.min(wanted, left, room.left(productId, locationId));
    outside.set(`${productId} ${locationId}`, left.minus(take));
    room.take(productId, locationId, take);
    return take;
  };
  const byId = new Map(lots.map((lot) => [lot.id, lot]));
  // A pin on a lot that can no longer be picked (used up, say) no longer counts, and a pin never
  // keeps more than the lot still has: the line looks for the rest elsewhere.
  const live: PinnedPick[] = [];
  for (const pin of pins) {
    const left = free.get(pin.lotId);
    if (!left || left.lessThanOrEqualTo(0)) continue;
    const quantity = Decimal.min(pin.quantity, left);
    free.set(pin.lotId, left.minus(quantity));
    // A picker's choice stays, even where an open session now holds the stock (shipping it is
    // then refused, saying so): it takes its room first, so nothing else is suggested there.
    room.take(pin.productId, byId.get(pin.lotId)!.locationId, quantity);
    live.push({ ...pin, quantity });
  }

  const planned: PlannedLine[] = [];
  for (const order of orders) {
    for (const line of order.lines) {
      const picks: PlannedPick[] = live
        .filter((p) => p.producerOrderId === order.producerOrderId && p.productId === line.productId)
        .map((p) => ({
          lotId: p.lotId, locationId: byId.get(p.lotId)!.locationId, quantity: p.quantity, pinned: true, replacedLotId: p.replacedLotId,
          whole: byId.get(p.lotId)!.kind === LotKind.ITEM,
        }));
      let need = line.quantity.minus(Decimal.sum(0, ...picks.map((p) => p.quantity)));
      const eligible = strategy.rank(lots.filter((lot) => lot.productId === line.productId && meetsCriteria(lot, line.criteria, order.deliveryDay)));
      for (const lot of eligible) {
        if (need.lessThanOrEqualTo(0)) break;
        const left = free.get(lot.id)!;
        const available = Decimal.min(left, room.left(lot.productId, lot.locationId));
        if (available.lessThanOrEqualTo(0)) continue;
        // A unique item goes whole: not when the line needs less, nor once part of it is taken
        // (nor when its location has room for only part of it).
        if (lot.kind === LotKind.ITEM && (available.greaterThan(need) || available.lessThan(lot.free))) continue;
        const take = Decimal.min(available, need);
        free.set(lot.id, left.minus(take));
        room.take(lot.productId, lot.locationId, take);
        need = need.minus(take);
        picks.push({ lotId: lot.id, locationId: lot.locationId, quantity: take, pinned: false, replacedLotId: null, whole: lot.kind === LotKind.ITEM });
      }
      const { producerOrderId, hubId, deliversAt, deliveryDay } = order;
      const rest = Decimal.max(need, 0);
      const untracked = spread(rest, line.committed, (locationId, wanted) => takeOutside(line.productId, locationId, wanted));
      const short = rest.minus(Decimal.sum(0, ...untracked.map((u) => u.quantity)));
      planned.push({ ...line, producerOrderId, hubId, deliversAt, deliveryDay, picks, untracked, short });
    }
  }
  relieveShortLines(strategy, planned, lots, free, room);
  giveRoomBack(planned, free, room, outsideLeft, takeOutside);
  return planned;
}

/**
 * Orders are served one at a time, so an earlier line may have taken, with a lot, the room (what
 * no open session holds) at a location where a later line's own stock kept outside lots is
 * committed, leaving that line short. When the earlier line can take its own stock kept outside
 * lots, where it is committed, instead, it does, and the short line gets the room back for its
 * own stock: both ship. Only suggested picks of batches move; a pin and a unique item stay.
 */
function giveRoomBack(
  planned: PlannedLine[],
  free: Map<string, Decimal>,
  room: Room,
  outsideLeft: (productId: string, locationId: string) => Decimal,
  takeOutside: (productId: string, locationId: string, wanted: Decimal) => Decimal,
): void {
  const addUntracked = (line: PlannedLine, locationId: string, quantity: Decimal) => {
    const at = line.untracked.find((u) => u.locationId === locationId);
    if (at) at.quantity = at.quantity.plus(quantity);
    else line.untracked.push({ locationId, quantity });
  };
  for (const short of planned.filter((line) => line.short.greaterThan(0))) {
    for (const at of short.committed) {
      const x = at.locationId;
      for (const holder of planned) {
        if (holder === short || holder.productId !== short.productId) continue;
        for (const pick of holder.picks.filter((p) => p.locationId === x && !p.pinned && !p.whole)) {
          for (const own of holder.committed) {
            if (own.locationId === x) continue;
            // As much as the short line's commitment at x, the stock kept outside lots there,
            // the lot pick and the holder's own stock elsewhere allow.
            const ownHere = quantityAt(short.untracked, x);
            const wanted = Decimal.min(short.short, at.quantity.minus(ownHere), outsideLeft(short.productId, x), pick.quantity);
            if (wanted.lessThanOrEqualTo(0)) continue;
            const moved = takeOutside(holder.productId, own.locationId, wanted);
            if (moved.lessThanOrEqualTo(0)) continue;
            addUntracked(holder, own.locationId, moved);
            pick.quantity = pick.quantity.minus(moved);
            free.set(pick.lotId, free.get(pick.lotId)!.plus(moved));
            room.give(holder.productId, x, moved);
            const taken = takeOutside(short.productId, x, moved);
            addUntracked(short, x, taken);
            short.short = short.short.minus(taken);
          }
        }
        holder.picks = holder.picks.filter((p) => p.quantity.greaterThan(0));
      }
    }
  }
}

/** What these picks (or stock kept outside lots) take at one location. */
export function quantityAt(parts: readonly { locationId: string; quantity: Decimal }[], locationId: string): Decimal {
  return Decimal.sum(0, ...parts.filter((p) => p.locationId === locationId).map((p) => p.quantity));
}

/** What is left at each (product, location) of what no open session holds, as picks take it. */
class Room {
  private readonly taken = new Map<string, Decimal>();
  constructor(private readonly unheld: (productId: string, locationId: string) => Decimal) {}

  left(productId: string, locationId: string): Decimal {
    const key = `${productId} ${locationId}`;
    return Decimal.max(this.unheld(productId, locationId).minus(this.taken.get(key) ?? 0), 0);
  }

  take(productId: string, locationId: string, quantity: Decimal): void {
    const key = `${productId} ${locationId}`;
    this.taken.set(key, (this.taken.get(key) ?? new Decimal(0)).plus(quantity));
  }

  /** What a pick let go of, for another to take. */
  give(productId: string, locationId: string, quantity: Decimal): void {
    this.take(productId, locationId, quantity.negated());
  }
}

/**
 * Orders are served one at a time, so an earlier line without criteria may have been given the
 * only lot a later line's criteria accept (the EXTRA wheel, when a CLASS_II one would have done),
 * and the later line is short. For each short line, such a pick is handed over when the line that
 * has it can take another free lot that meets its own criteria instead: the earlier line keeps
 * its quantity, from a lot it accepts, and the short line gets the lot it needs. Only suggested
 * picks of batches change hands: a picker's pin stays, and a unique item goes whole as it was given.
 * The handed-over pick stays where it was; the lot taken instead needs room where it is.
 */
function relieveShortLines(strategy: LotStrategy, planned: PlannedLine[], lots: readonly LotCandidate[], free: Map<string, Decimal>, room: Room): void {
  const eligible = (line: PlannedLine) =>
    strategy.rank(lots.filter((lot) => lot.productId === line.productId && lot.kind === LotKind.BATCH && meetsCriteria(lot, line.criteria, line.deliveryDay)));
  const add = (line: PlannedLine, lot: LotCandidate, quantity: Decimal) => {
    const pick = line.picks.find((p) => p.lotId === lot.id && !p.pinned);
    if (pick) pick.quantity = pick.quantity.plus(quantity);
    else line.picks.push({ lotId: lot.id, locationId: lot.locationId, quantity, pinned: false, replacedLotId: null, whole: false });
  };
  for (const short of planned.filter((line) => line.short.greaterThan(0))) {
    for (const wanted of eligible(short)) {
      if (short.short.lessThanOrEqualTo(0)) break;
      for (const holder of planned) {
        if (short.short.lessThanOrEqualTo(0)) break;
        if (holder === short || holder.productId !== short.productId) continue;
        const given = holder.picks.find((p) => p.lotId === wanted.id && !p.pinned);
        if (!given) continue;
        for (const instead of eligible(holder)) {
          const left = free.get(instead.id)!;
          const spare = Decimal.min(left, room.left(instead.productId, instead.locationId));
          if (instead.id === wanted.id || spare.lessThanOrEqualTo(0) || given.quantity.lessThanOrEqualTo(0)) continue;
          const q = Decimal.min(short.short, given.quantity, spare);
          if (q.lessThanOrEqualTo(0)) break;
          given.quantity = given.quantity.minus(q);
          free.set(instead.id, left.minus(q));
          // What the lot handed over gives stays picked where it is (by the short line instead).
          room.take(instead.productId, instead.locationId, q);
          add(holder, instead, q);
          add(short, wanted, q);
          short.short = short.short.minus(q);
        }
        holder.picks = holder.picks.filter((p) => p.quantity.greaterThan(0));
      }
    }
  }
}

/**
 * Places what no lot covers at the locations where the line's stock is committed, in order, as
 * far as `take` gives stock kept outside lots there; the rest is short.
 */
function spread(
  quantity: Decimal,
  committed: OpenLine['committed'],
  take: (locationId: string, wanted: Decimal) => Decimal,
): PlannedLine['untracked'] {
  const out: PlannedLine['untracked'] = [];
  let left = quantity;
  for (const at of committed) {
    if (left.lessThanOrEqualTo(0)) break;
    const taken = take(at.locationId, Decimal.min(left, at.quantity));
    if (taken.greaterThan(0)) out.push({ locationId: at.locationId, quantity: taken });
    left = left.minus(taken);
  }
  return out;
}

/**
 * The first line of `before`, other than those `mine` says are the change's own, that the plan
 * `after` a change (a swap, a shipment, a write-off) leaves shorter, and by how much. A change may
 * use what the plan gave another order only where that order can be given something else. Only
 * lines planned before count: an order a session completed meanwhile is not the change's doing.
 */
export function lineLeftShorter(before: readonly PlannedLine[], after: readonly PlannedLine[], mine: (line: PlannedLine) => boolean): { line: PlannedLine; more: Decimal } | undefined {
  const key = (l: PlannedLine) => `${l.producerOrderId} ${l.productId}`;
  const shortBefore = new Map(before.map((l) => [key(l), l.short]));
  for (const line of after) {
    const was = shortBefore.get(key(line));
    if (was === undefined || mine(line)) continue;
    const more = line.short.minus(was);
    if (more.greaterThan(0)) return { line, more };
  }
  return undefined;
}
