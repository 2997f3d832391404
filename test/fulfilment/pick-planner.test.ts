import { Decimal } from 'decimal.js';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { type OpenOrder, type PinnedPick, planPicks } from '../../src/modules/fulfilment/pick-planner.js';
import { LotGrade, LotKind } from '../../src/modules/lots/lot.entity.js';
import { earliestBestBefore, type LotCandidate } from '../../src/modules/lots/lot-strategy.js';

// The planner alone: what every order picks at a location stays within what no open session holds there.
const P = 'product';
const day = '2026-11-25';
const lot = (id: string, locationId: string, quantity: number, extra: Partial<LotCandidate> = {}): LotCandidate => ({
  id, code: id, productId: P, locationId, kind: LotKind.BATCH, grade: LotGrade.CLASS_I, harvestedOn: null, bestBefore: null, free: new Decimal(quantity), ...extra,
});
const order = (id: string, quantity: number, committed: [string, number][], minGrade: LotGrade | null = null): OpenOrder => ({
  producerOrderId: id, hubId: 'hub', deliversAt: DateTime.fromISO(`${day}T08:00:00`, { zone: 'Europe/Paris' }), deliveryDay: day,
  lines: [{
    productId: P, quantity: new Decimal(quantity), criteria: { minGrade, minShelfLifeDays: null },
    committed: committed.map(([locationId, q]) => ({ locationId, quantity: new Decimal(q) })),
  }],
});
const per = (values: Record<string, number>) => (_: string, locationId: string) => new Decimal(values[locationId] ?? 0);
const plan = (orders: OpenOrder[], lots: LotCandidate[], outside: Record<string, number>, unheld: Record<string, number>, pins: PinnedPick[] = []) =>
  planPicks(earliestBestBefore, orders, lots, pins, per(outside), per(unheld)).map((l) => ({
    order: l.producerOrderId,
    picks: l.picks.map((p) => [p.lotId, p.quantity.toNumber()]),
    untracked: l.untracked.map((u) => [u.locationId, u.quantity.toNumber()]),
    short: l.short.toNumber(),
  }));

describe('planPicks and what open sessions hold', () => {
  it('gives a lot only what its location has that no open session holds, then the order its own stock', () => {
    // Cold: a lot of 4, all held by an open session; Main: 10 outside lots, 6 of them held.
    expect(plan([order('ana', 4, [['main', 4]])], [lot('P-1', 'cold', 4)], { main: 10 }, { main: 4, cold: 0 }))
      .toEqual([{ order: 'ana', picks: [], untracked: [['main', 4]], short: 0 }]);
    // Nothing held: the lot, as before.
    expect(plan([order('ana', 4, [['main', 4]])], [lot('P-1', 'cold', 4)], { main: 10 }, { main: 10, cold: 4 }))
      .toEqual([{ order: 'ana', picks: [['P-1', 4]], untracked: [], short: 0 }]);
  });

  it('shares a location out among every order, lots and stock outside lots alike', () => {
    expect(plan([order('a', 4, [['main', 4]]), order('b', 4, [['main', 4]])], [lot('L', 'cold', 8)], { main: 8 }, { main: 8, cold: 4 })).toEqual([
      { order: 'a', picks: [['L', 4]], untracked: [], short: 0 },
      { order: 'b', picks: [], untracked: [['main', 4]], short: 0 },
    ]);
  });

  it('suggests a unique item only where all of it is free of holds', () => {
    const wheel = lot('W', 'cold', 4, { kind: LotKind.ITEM });
    expect(plan([order('a', 4, [['main', 4]])], [wheel], { main: 4 }, { main: 4, cold: 3 }))
      .toEqual([{ order: 'a', picks: [], untracked: [['main', 4]], short: 0 }]);
  });

  it('keeps a pin, which takes its room first', () => {
    const pins: PinnedPick[] = [{ producerOrderId: 'b', productId: P, lotId: 'L', quantity: new Decimal(3), replacedLotId: null }];
    expect(plan([order('a', 3, [['main', 3]]), order('b', 3, [['main', 3]])], [lot('L', 'cold', 6)], { main: 6 }, { main: 6, cold: 3 }, pins)).toEqual([
      { order: 'a', picks: [], untracked: [['main', 3]], short: 0 },
      { order: 'b', picks: [['L', 3]], untracked: [], short: 0 },
    ]);
  });

  it('hands a lot to a short line only if the lot taken instead has room where it is', () => {
    // 'a' takes no criteria and is served first: it gets the EXTRA lot 'b' needs. It could take the CLASS_II lot instead, in the cold store.
    const lots = [lot('TOP', 'main', 5, { grade: LotGrade.EXTRA, bestBefore: '2026-12-01' }), lot('LOW', 'cold', 5, { grade: LotGrade.CLASS_II, bestBefore: '2026-12-10' })];
    const orders = [order('a', 5, [['cold', 5]]), order('b', 5, [['main', 5]], LotGrade.EXTRA)];
    expect(plan(orders, lots, {}, { main: 5, cold: 5 })).toEqual([
      { order: 'a', picks: [['LOW', 5]], untracked: [], short: 0 },
      { order: 'b', picks: [['TOP', 5]], untracked: [], short: 0 },
    ]);
    // An open session holds the cold store's stock: 'a' keeps the EXTRA lot, and 'b' is short.
    expect(plan(orders, lots, {}, { main: 5, cold: 0 })).toEqual([
      { order: 'a', picks: [['TOP', 5]], untracked: [], short: 0 },
      { order: 'b', picks: [], untracked: [], short: 5 },
    ]);
  });

  it('never plans more at a location than no open session holds there, over random plans', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const locations = ['l1', 'l2', 'l3'];
    for (let round = 0; round < 300; round += 1) {
      const lots = Array.from({ length: random(5) }, (_, i) => lot(`L${i}`, locations[random(3)]!, 1 + random(6), {
        kind: random(4) === 0 ? LotKind.ITEM : LotKind.BATCH, grade: [LotGrade.EXTRA, LotGrade.CLASS_I, LotGrade.CLASS_II][random(3)]!, bestBefore: `2026-12-${10 + random(9)}`,
      }));
      const outside = Object.fromEntries(locations.map((l) => [l, random(8)]));
      const onHand = (l: string) => outside[l]! + lots.filter((x) => x.locationId === l).reduce((s, x) => s + x.free.toNumber(), 0);
      const unheld = Object.fromEntries(locations.map((l) => [l, random(onHand(l) + 1)]));
      const orders = Array.from({ length: 1 + random(4) }, (_, i) => order(`o${i}`, 1 + random(8), [[locations[random(3)]!, 1 + random(4)], [locations[random(3)]!, 1 + random(4)]],
        random(2) === 0 ? null : LotGrade.CLASS_I));
      const lines = planPicks(earliestBestBefore, orders, lots, [], per(outside), per(unheld));
      for (const l of locations) {
        const picked = lines.flatMap((line) => [...line.picks.filter((p) => p.locationId === l), ...line.untracked.filter((u) => u.locationId === l)])
          .reduce((s, p) => s + p.quantity.toNumber(), 0);
        expect(picked, `round ${round} at ${l}`).toBeLessThanOrEqual(unheld[l]!);
      }
      for (const line of lines) {
        const covered = [...line.picks, ...line.untracked].reduce((s, p) => s.plus(p.quantity), line.short);
        expect(covered.equals(line.quantity), `round ${round}`).toBe(true);
      }
    }
  });
});

describe('planPicks giving room back', () => {
  it("moves an earlier line onto its own stock outside lots when its lot took the room a later line's own stock needs", () => {
    // L1: lot A of 5 and 5 outside lots, 5 held by an open session (room 5); L2: 5 outside lots.
    // a (delivering first) is committed at L2, b at L1: a from L2's stock, b from L1's, fills both.
    expect(plan([order('a', 5, [['L2', 5]]), order('b', 5, [['L1', 5]])], [lot('A', 'L1', 5)], { L1: 5, L2: 5 }, { L1: 5, L2: 5 })).toEqual([
      { order: 'a', picks: [], untracked: [['L2', 5]], short: 0 },
      { order: 'b', picks: [], untracked: [['L1', 5]], short: 0 },
    ]);
    // With no stock of its own elsewhere, a keeps the lot, and b is short of what no session holds.
    expect(plan([order('a', 5, [['L2', 5]]), order('b', 5, [['L1', 5]])], [lot('A', 'L1', 5)], { L1: 5, L2: 0 }, { L1: 5, L2: 5 })).toEqual([
      { order: 'a', picks: [['A', 5]], untracked: [], short: 0 },
      { order: 'b', picks: [], untracked: [], short: 5 },
    ]);
  });
});
