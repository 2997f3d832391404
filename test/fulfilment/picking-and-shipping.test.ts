import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStockConsistent } from '../support/invariants.js';
import { createHub, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { checkoutsBehindLockedLevels } from '../support/locked-elsewhere.js';
import * as op from '../support/operations.js';
import { orderMutation } from '../support/scenarios.js';
import { waitFor, waitForLockWait } from '../support/wait.js';
import {
  addLocation, adjustAt, buy, closeSessions, createOfferSession, DELIVERY_DAY, pickLines, producerOrderOf, receiveLot, SHIP, stockByLocation, SWAP, world,
} from './support.js';

describe('picking and shipping', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it('suggests only released lots that meet the criteria, earliest best-before first, and shows the criteria', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cheese = await w.product('Tomme');
    const early = await receiveLot(t.api, cheese, { code: 'B-EARLY', quantity: '4', bestBefore: '2026-12-01' });
    await receiveLot(t.api, cheese, { code: 'B-LATE', quantity: '10', bestBefore: '2026-12-20' });
    const quarantined = await receiveLot(t.api, cheese, { code: 'B-QUARANTINE', quantity: '50', bestBefore: '2026-11-26', released: false });
    await receiveLot(t.api, cheese, { code: 'B-LOW', quantity: '50', bestBefore: '2026-11-27', grade: 'CLASS_II' });
    await receiveLot(t.api, cheese, { code: 'B-SHORTLIVED', quantity: '50', bestBefore: '2026-11-27', grade: 'EXTRA' });
    // Only released lots are stock: 4 + 10 + 50 + 50, not the quarantined 50.
    expect((await stockOf(t.api, cheese)).onHand).toBe('114');

    const session = await createOfferSession(t.api, w.hub, [{ productId: cheese, minGrade: 'CLASS_I', minShelfLifeDays: 5 }]);
    await buy(t.api, session.id, 'ana', session.offerFor(cheese), '6');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);

    const [line] = await pickLines(t.api, w.farm, order);
    expect(line).toMatchObject({ quantity: '6', deliveryDay: DELIVERY_DAY, criteria: { minGrade: 'CLASS_I', minShelfLifeDays: 5 }, untracked: [], short: '0' });
    expect(line!.lots.map((l) => [l.lot.code, l.quantity, l.pinned])).toEqual([['B-EARLY', '4', false], ['B-LATE', '2', false]]);
    expect(line!.lots.map((l) => l.lot.id)).toContain(early);
    expect(line!.lots.map((l) => l.lot.id)).not.toContain(quarantined);
  });

  it('refuses a swap to a lot that fails the criteria, and records one that meets them', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const lamb = await w.product('Lamb', 'each');
    const a = await receiveLot(t.api, lamb, { code: 'EAR-1', quantity: '1', kind: 'ITEM', bestBefore: '2026-12-01', grade: 'EXTRA' });
    const b = await receiveLot(t.api, lamb, { code: 'EAR-2', quantity: '1', kind: 'ITEM', bestBefore: '2026-12-05', grade: 'EXTRA' });
    const low = await receiveLot(t.api, lamb, { code: 'EAR-3', quantity: '1', kind: 'ITEM', bestBefore: '2026-12-09', grade: 'CLASS_II' });
    const session = await createOfferSession(t.api, w.hub, [{ productId: lamb, minGrade: 'EXTRA' }]);
    await buy(t.api, session.id, 'ben', session.offerFor(lamb), '1');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    expect((await pickLines(t.api, w.farm, order))[0]!.lots.map((l) => l.lot.id)).toEqual([a]);

    const refused = await t.api.data<{ swapLot: { userErrors: { field: string[]; code: string; message: string }[] } }>(SWAP, {
      input: { producerOrderId: order, productId: lamb, fromLotId: a, toLotId: low },
    });
    expect(refused.swapLot.userErrors).toMatchObject([{ field: ['toLotId'], code: 'INVALID_INPUT' }]);
    expect(refused.swapLot.userErrors[0]!.message).toContain('grade CLASS_II');
    expect((await pickLines(t.api, w.farm, order))[0]!.lots.map((l) => l.lot.id)).toEqual([a]);

    const swapped = await t.api.data<{ swapLot: { userErrors: unknown[] } }>(SWAP, { input: { producerOrderId: order, productId: lamb, fromLotId: a, toLotId: b } });
    expect(swapped.swapLot.userErrors).toEqual([]);
    const [line] = await pickLines(t.api, w.farm, order);
    expect(line!.lots).toMatchObject([{ lot: { id: b }, quantity: '1', pinned: true, replacedLot: { id: a } }]);
    const { rows } = await t.db.query("SELECT lot_id FROM domain_event WHERE kind = 'LOT_SWAPPED' AND producer_order_id = $1", [order]);
    expect(rows).toEqual([{ lot_id: b }]);

    // The same swap sent again (its answer lost) answers as done and changes nothing.
    const again = await t.api.data<{ swapLot: { userErrors: unknown[] } }>(SWAP, { input: { producerOrderId: order, productId: lamb, fromLotId: a, toLotId: b } });
    expect(again.swapLot.userErrors).toEqual([]);
    expect((await pickLines(t.api, w.farm, order))[0]!.lots).toEqual(line!.lots);
    expect((await t.db.query("SELECT count(*)::int AS n FROM domain_event WHERE kind = 'LOT_SWAPPED' AND producer_order_id = $1", [order])).rows).toEqual([{ n: 1 }]);
    // A lot that was never picked for the line is still refused, and so is a swap of the old lot to
    // any lot but the one that took its place.
    const stray = await t.api.data<{ swapLot: { userErrors: { code: string }[] } }>(SWAP, { input: { producerOrderId: order, productId: lamb, fromLotId: low, toLotId: b } });
    expect(stray.swapLot.userErrors.map((e) => e.code)).toEqual(['INVALID_INPUT']);
    const elsewhere = await t.api.data<{ swapLot: { userErrors: { code: string; field: string[] }[] } }>(SWAP, { input: { producerOrderId: order, productId: lamb, fromLotId: a, toLotId: low } });
    expect(elsewhere.swapLot.userErrors.map((e) => [e.code, e.field])).toEqual([['INVALID_INPUT', ['fromLotId']]]);
  });

  it("keeps pickers' pins within what a lot has left after a write-off, so the pick list ships as shown", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const kale = await w.product('Kale');
    const early = await receiveLot(t.api, kale, { code: 'K-EARLY', quantity: '10', bestBefore: '2026-12-01' });
    const late = await receiveLot(t.api, kale, { code: 'K-LATE', quantity: '10', bestBefore: '2026-12-09' });
    const hubB = await createHub(t.api, 'Hub B');
    const a = await createOfferSession(t.api, w.hub, [{ productId: kale }]);
    const b = await createOfferSession(t.api, hubB, [{ productId: kale }]);
    await buy(t.api, a.id, 'ana', a.offerFor(kale), '6');
    await buy(t.api, b.id, 'ben', b.offerFor(kale), '4');
    await closeSessions(t);
    const [orderA, orderB] = [await producerOrderOf(t.api, w.farm, a.id), await producerOrderOf(t.api, w.farm, b.id)];
    const swap = async (producerOrderId: string) =>
      (await t.api.data<{ swapLot: { userErrors: unknown[] } }>(SWAP, { input: { producerOrderId, productId: kale, fromLotId: early, toLotId: late } })).swapLot.userErrors;
    // Both pickers take the later lot instead: A's pin first, then B's.
    expect(await swap(orderA)).toEqual([]);
    t.clock.set('2026-11-23T21:00:00+01:00');
    expect(await swap(orderB)).toEqual([]);

    // 4 of the later lot are damaged: 6 left, which A's pin (the older) keeps; B's gives way.
    const writeOff = await t.api.data<{ adjustStock: { userErrors: unknown[] } }>(op.ADJUST_STOCK, { input: { productId: kale, lotId: late, delta: '-4', reason: 'damaged' } });
    expect(writeOff.adjustStock.userErrors).toEqual([]);
    const [lineA] = await pickLines(t.api, w.farm, orderA);
    expect(lineA!.lots.map((l) => [l.lot.id, l.quantity, l.pinned])).toEqual([[late, '6', true]]);
    expect((await pickLines(t.api, w.farm, orderB))[0]!.lots.map((l) => [l.lot.id, l.quantity, l.pinned])).toEqual([[early, '4', false]]);
    expect((await t.db.query('SELECT producer_order_id, quantity::text FROM lot_pick WHERE lot_id = $1', [late])).rows).toEqual([{ producer_order_id: orderA, quantity: '6.000' }]);

    // A ships exactly the lots its pick list names (refused while B's dropped pin still counted).
    const shipped = await t.api.data<{ shipProducerOrder: { producerOrder: { fulfilmentState: string } | null; userErrors: unknown[] } }>(SHIP, {
      input: { producerOrderId: orderA, carrier: 'Van', trackingReference: 'K-1', lines: [{ productId: kale, quantity: '6', lots: lineA!.lots.map((l) => ({ lotId: l.lot.id, quantity: l.quantity })) }] },
    });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    expect(shipped.shipProducerOrder.producerOrder?.fulfilmentState).toBe('FULFILLED');
    // The later lot is used up; counting it up again does not bring B's old pin back.
    expect((await t.api.data<{ adjustStock: { userErrors: unknown[] } }>(op.ADJUST_STOCK, { input: { productId: kale, lotId: late, delta: '3', reason: 'recount' } })).adjustStock.userErrors).toEqual([]);
    expect((await pickLines(t.api, w.farm, orderB))[0]!.lots.map((l) => [l.lot.id, l.quantity, l.pinned])).toEqual([[early, '4', false]]);
    await expectStockConsistent(t.db);
  });

  it('does not leave a line with criteria short for a lot an earlier line without criteria could do without', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const otherHub = await createHub(t.api, 'Riverside Hub');
    const apples = await w.product('Apples');
    await receiveLot(t.api, apples, { code: 'TOP', quantity: '10', grade: 'EXTRA', bestBefore: '2026-12-10' });
    await receiveLot(t.api, apples, { code: 'LOW', quantity: '10', grade: 'CLASS_II', bestBefore: '2026-12-20' });
    const extra = await createOfferSession(t.api, w.hub, [{ productId: apples, minGrade: 'EXTRA' }]);
    // Delivered earlier the same day, so planned first: the earliest best-before (TOP) would go to it.
    const any = await createOfferSession(t.api, otherHub, [{ productId: apples }], { deliversAt: '2026-11-25T06:00:00+01:00' });
    await buy(t.api, extra.id, 'chef', extra.offerFor(apples), '10');
    await buy(t.api, any.id, 'grocer', any.offerFor(apples), '10');
    await closeSessions(t);
    const wantsExtra = await producerOrderOf(t.api, w.farm, extra.id);
    const takesAny = await producerOrderOf(t.api, w.farm, any.id);

    const [forExtra] = await pickLines(t.api, w.farm, wantsExtra);
    const [forAny] = await pickLines(t.api, w.farm, takesAny);
    expect([forExtra!.lots.map((l) => [l.lot.code, l.quantity]), forExtra!.short]).toEqual([[['TOP', '10']], '0']);
    expect([forAny!.lots.map((l) => [l.lot.code, l.quantity]), forAny!.short]).toEqual([[['LOW', '10']], '0']);
    for (const order of [takesAny, wantsExtra]) {
      const shipped = await t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(SHIP, { input: { producerOrderId: order, carrier: 'Van', trackingReference: order } });
      expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    }
    await expectStockConsistent(t.db);
  });

  it("states in a swap's event what is left after a stock change that commits while the swap runs", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const plums = await w.product('Plums');
    const first = await receiveLot(t.api, plums, { code: 'PL-1', quantity: '5', bestBefore: '2026-12-01' });
    const second = await receiveLot(t.api, plums, { code: 'PL-2', quantity: '5', bestBefore: '2026-12-05' });
    const session = await createOfferSession(t.api, w.hub, [{ productId: plums }]);
    await buy(t.api, session.id, 'ana', session.offerFor(plums), '2');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);

    // Another change to the plums' stock is committing (as a hold's commit does, it holds their levels).
    const other = await t.db.connect();
    try {
      await other.query('BEGIN');
      await other.query('SELECT 1 FROM stock_level WHERE product_id = $1 FOR UPDATE', [plums]);
      await other.query('UPDATE stock_level SET on_hand = on_hand + 3 WHERE product_id = $1 AND location_id = $2', [plums, w.main]);
      await other.query("INSERT INTO stock_movement (product_id, location_id, kind, on_hand_delta, created_at) VALUES ($1, $2, 'ADJUST', 3, now())", [plums, w.main]);
      const swap = t.api.data<{ swapLot: { userErrors: unknown[] } }>(SWAP, { input: { producerOrderId: order, productId: plums, fromLotId: first, toLotId: second } });
      await waitForLockWait(t.db, 'the swap to wait for the change committing');
      await other.query('COMMIT');
      expect((await swap).swapLot.userErrors).toEqual([]);
    } finally {
      other.release();
    }
    const { rows } = await t.db.query("SELECT available::text FROM domain_event WHERE kind = 'LOT_SWAPPED' AND producer_order_id = $1", [order]);
    expect(rows).toEqual([{ available: '11.000' }]); // 10 received + 3, less the 2 committed
    await expectStockConsistent(t.db);
  });

  it('ships short: the latest orders lose first, priority customers are protected, the hub is told, the ledger still adds up', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const berries = await w.product('Strawberries');
    const lot1 = await receiveLot(t.api, berries, { code: 'S-1', quantity: '5', bestBefore: '2026-11-30' });
    const lot2 = await receiveLot(t.api, berries, { code: 'S-2', quantity: '10', bestBefore: '2026-12-02', locationId: cold });
    await t.api.data('mutation ($input: SetCustomerPriorityInput!) { setCustomerPriority(input: $input) { userErrors { code } } }', {
      input: { hubId: w.hub, customerRef: 'care-home', priority: true },
    });
    const session = await createOfferSession(t.api, w.hub, [{ productId: berries }]);
    const offer = session.offerFor(berries);
    const first = await buy(t.api, session.id, 'first', offer, '3');
    t.clock.set('2026-11-23T10:00:00+01:00');
    const second = await buy(t.api, session.id, 'second', offer, '2');
    t.clock.set('2026-11-23T11:00:00+01:00');
    const latest = await buy(t.api, session.id, 'latest', offer, '3');
    t.clock.set('2026-11-23T12:00:00+01:00');
    const careHome = await buy(t.api, session.id, 'care-home', offer, '4');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    expect(await stockOf(t.api, berries)).toEqual({ onHand: '15', held: '0', committed: '12', available: '3' });

    // 12 ordered, only 7 ship: 5 short. "latest" loses 3, "second" 2; the care home ordered last of
    // all, but is a priority customer, and keeps its 4.
    const shipped = await t.api.data<{ shipProducerOrder: { producerOrder: { fulfilmentState: string; carrier: string; shipment: unknown[] }; userErrors: unknown[] } }>(SHIP, {
      input: {
        producerOrderId: order, carrier: 'La Poste', trackingReference: 'LP-123',
        lines: [{ productId: berries, quantity: '7', weightKg: '7.12', lots: [{ lotId: lot1, quantity: '5' }, { lotId: lot2, quantity: '2' }] }],
      },
    });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    expect(shipped.shipProducerOrder.producerOrder).toMatchObject({
      fulfilmentState: 'FULFILLED', carrier: 'La Poste', shipment: [{ product: { id: berries }, ordered: '12', quantity: '7', weightKg: '7.12' }],
    });
    // The producer's to-do list no longer has it; its shipped list does.
    const inState = async (state: string) =>
      (await t.api.data<{ producerOrders: { id: string }[] }>('query ($p: ID!, $s: FulfilmentState) { producerOrders(producerId: $p, fulfilmentState: $s) { id } }', { p: w.farm, s: state }))
        .producerOrders.map((o) => o.id);
    expect(await inState('UNFULFILLED')).not.toContain(order);
    expect(await inState('FULFILLED')).toContain(order);

    const { rows: lines } = await t.db.query(
      `SELECT o.customer_ref, l.quantity::text, l.fulfilled_quantity::text FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
        WHERE l.producer_order_id = $1 ORDER BY o.customer_ref`,
      [order],
    );
    expect(lines).toEqual([
      { customer_ref: 'care-home', quantity: '4.000', fulfilled_quantity: '4.000' },
      { customer_ref: 'first', quantity: '3.000', fulfilled_quantity: '3.000' },
      { customer_ref: 'latest', quantity: '3.000', fulfilled_quantity: '0.000' },
      { customer_ref: 'second', quantity: '2.000', fulfilled_quantity: '0.000' },
    ]);
    const { customerOrder } = await t.api.data<{ customerOrder: unknown }>(
      'query ($id: ID!) { customerOrder(id: $id) { total { amount currency } lines { quantity fulfilledQuantity lineTotal { amount } fulfilledTotal { amount } } } }',
      { id: latest },
    );
    // At 300 cents: ordered 900, owed nothing after the short fill (the hub refunds the difference).
    expect(customerOrder).toEqual({
      total: { amount: 900, currency: 'EUR' },
      lines: [{ quantity: '3', fulfilledQuantity: '0', lineTotal: { amount: 900 }, fulfilledTotal: { amount: 0 } }],
    });
    const { rows: events } = await t.db.query(
      "SELECT customer_order_id, quantity::text, hub_id FROM domain_event WHERE kind = 'SHORT_FILLED' AND producer_order_id = $1 ORDER BY quantity",
      [order],
    );
    expect(events).toEqual([
      { customer_order_id: second, quantity: '2.000', hub_id: w.hub },
      { customer_order_id: latest, quantity: '3.000', hub_id: w.hub },
    ]);
    expect([first, careHome]).not.toContain(events[0]!.customer_order_id);

    // 7 left stock on hand (5 from lot S-1, 2 from S-2: every berry is in a lot); the commitment is gone.
    expect(await stockOf(t.api, berries)).toEqual({ onHand: '8', held: '0', committed: '0', available: '8' });
    const { rows: lots } = await t.db.query('SELECT code, quantity::text FROM lot WHERE product_id = $1 ORDER BY code', [berries]);
    expect(lots).toEqual([{ code: 'S-1', quantity: '0.000' }, { code: 'S-2', quantity: '8.000' }]);
    await expectStockConsistent(t.db);

    const again = await t.api.data<{ shipProducerOrder: { userErrors: { code: string }[] } }>(SHIP, {
      input: { producerOrderId: order, carrier: 'La Poste', trackingReference: 'LP-124' },
    });
    expect(again.shipProducerOrder.userErrors.map((e) => e.code)).toEqual(['INVALID_STATE']);

    // The same shipment sent again (its first answer lost), spelt differently, answers as shipped
    // and changes nothing; a corrected one under the same parcel is refused, not taken as done.
    const eventCount = async () => (await t.db.query('SELECT count(*)::int AS n FROM domain_event WHERE producer_order_id = $1', [order])).rows[0].n;
    const before = await eventCount();
    const resend = (line: Record<string, unknown>) => t.api.data<{ shipProducerOrder: { producerOrder: { fulfilmentState: string } | null; userErrors: { code: string }[] } }>(SHIP, {
      input: { producerOrderId: order.toUpperCase(), carrier: 'La Poste ', trackingReference: ' LP-123', lines: [{ productId: berries, weightKg: '7.120', ...line }] },
    });
    for (const same of [
      { quantity: '7.0', lots: [{ lotId: lot2, quantity: '2' }, { lotId: lot1, quantity: '5.0' }] },
      // Entries naming one lot add up, as shipping adds them.
      { quantity: '7', lots: [{ lotId: lot1, quantity: '3' }, { lotId: lot2, quantity: '2' }, { lotId: lot1, quantity: '2' }] },
    ]) {
      const retry = await resend(same);
      expect(retry.shipProducerOrder.userErrors).toEqual([]);
      expect(retry.shipProducerOrder.producerOrder?.fulfilmentState).toBe('FULFILLED');
    }
    for (const different of [
      { quantity: '5', lots: [{ lotId: lot1, quantity: '5' }] },
      { quantity: '7' }, // the suggested lots
      { quantity: '7', lots: [] }, // nothing from lots
    ]) {
      expect((await resend(different)).shipProducerOrder.userErrors.map((e) => e.code)).toEqual(['INVALID_STATE']);
    }
    expect(await stockOf(t.api, berries)).toEqual({ onHand: '8', held: '0', committed: '0', available: '8' });
    expect((await t.db.query('SELECT code, quantity::text FROM lot WHERE product_id = $1 ORDER BY code', [berries])).rows).toEqual(lots);
    expect(await eventCount()).toBe(before);
    await expectStockConsistent(t.db);
  });

  it('ships short among checkouts placed in one batch, whose instants tie, in the order they arrived: the last to arrive lose', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const currants = await w.product('Redcurrants');
    await adjustAt(t.api, currants, w.main, '20');
    const session = await createOfferSession(t.api, w.hub, [{ productId: currants }]);
    await buy(t.api, session.id, 'opener', session.offerFor(currants), '1'); // the producer order exists now
    const { batcher } = t.app.services.checkout;

    // One checkout waits at its COMMIT for the levels, locked elsewhere; six more queue behind it,
    // one after another, and go as one batch when the lock is released.
    const { levels, first, buy: queue } = await checkoutsBehindLockedLevels(t, session, currants);
    const customers = ['a', 'b', 'c', 'd', 'e', 'f'];
    const queued = [];
    try {
      for (const [i, customer] of customers.entries()) {
        queued.push(queue(customer));
        await waitFor(`${customer} to queue`, async () => (batcher.waiting === i + 1 ? true : undefined));
      }
    } finally {
      await levels.release();
    }
    const placed = await Promise.all([first, ...queued]);
    for (const result of placed) {
      expect(result.userErrors).toEqual([]);
      await orderMutation(t.api, op.CONFIRM_PAYMENT, result.customerOrder!.id);
    }
    const { rows: orders } = await t.db.query<{ customer_ref: string; created_at: Date }>(
      'SELECT customer_ref, created_at FROM customer_order WHERE sales_session_id = $1 AND customer_ref = ANY($2) ORDER BY arrival_seq',
      [session.id, customers],
    );
    expect(orders.map((o) => o.customer_ref)).toEqual(customers);
    expect(new Set(orders.map((o) => o.created_at.getTime())).size).toBe(1);

    // 8 ordered, 5 ship: the three that arrived last lose their one each.
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    const shipped = await t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(SHIP, {
      input: { producerOrderId: order, carrier: 'Van', trackingReference: 'V-1', lines: [{ productId: currants, quantity: '5' }] },
    });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    const { rows: fills } = await t.db.query(
      `SELECT o.customer_ref, trim_scale(l.fulfilled_quantity)::text AS fulfilled FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
        WHERE l.producer_order_id = $1 ORDER BY o.customer_ref`,
      [order],
    );
    expect(fills).toEqual([
      ...['a', 'b', 'c'].map((customer) => ({ customer_ref: customer, fulfilled: '1' })),
      ...['d', 'e', 'f'].map((customer) => ({ customer_ref: customer, fulfilled: '0' })),
      { customer_ref: 'first in line', fulfilled: '1' },
      { customer_ref: 'opener', fulfilled: '1' },
    ]);
    await expectStockConsistent(t.db);
  });

  it('ships from the lots it locked: one received while it waits for the levels is left alone, and its write-off waits instead of deadlocking', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const kale = await w.product('Kale');
    const old = await receiveLot(t.api, kale, { code: 'K-OLD', quantity: '5', bestBefore: '2026-12-20' });
    const session = await createOfferSession(t.api, w.hub, [{ productId: kale }]);
    await buy(t.api, session.id, 'ana', session.offerFor(kale), '2');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);

    // A lot is being received: its levels are locked while the shipment starts, which locks the
    // lots there are and waits for them. The lot has an earlier best-before (the one to suggest,
    // were it there when the shipment began), and commits while the shipment still waits...
    const receipt = await t.db.connect();
    const fresh = randomUUID();
    let shipping;
    try {
      await receipt.query('BEGIN');
      await receipt.query('SELECT 1 FROM stock_level WHERE product_id = $1 ORDER BY location_id FOR UPDATE', [kale]);
      shipping = t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(SHIP, { input: { producerOrderId: order, carrier: 'Van', trackingReference: 'K-1' } });
      await waitForLockWait(t.db, 'the shipment to wait for the levels');
      await receipt.query(
        `INSERT INTO lot (id, created_at, product_id, location_id, code, kind, quantity, grade, status, best_before, released_at)
         VALUES ($1, now(), $2, $3, 'K-NEW', 'BATCH', 5, 'CLASS_I', 'RELEASED', '2026-12-01', now())`,
        [fresh, kale, w.main],
      );
      await receipt.query("INSERT INTO stock_movement (product_id, location_id, lot_id, kind, on_hand_delta) VALUES ($1, $2, $3, 'RECEIVE', 5)", [kale, w.main, fresh]);
      await receipt.query('UPDATE stock_level SET on_hand = on_hand + 5 WHERE product_id = $1 AND location_id = $2', [kale, w.main]);
      await receipt.query('COMMIT');
    } finally {
      receipt.release();
    }
    // ...and 1 of it is written off.
    const writeOff = t.api.data<{ adjustStock: { userErrors: unknown[] } }>(
      'mutation ($input: AdjustStockInput!) { adjustStock(input: $input) { userErrors { code message } } }',
      { input: { productId: kale, delta: '-1', lotId: fresh } },
    );
    const [shipped, written] = await Promise.all([shipping, writeOff]);
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    expect(written.adjustStock.userErrors).toEqual([]);
    const { rows: lots } = await t.db.query('SELECT id, trim_scale(quantity)::text AS quantity FROM lot WHERE product_id = $1 ORDER BY code', [kale]);
    expect(lots).toEqual([{ id: fresh, quantity: '4' }, { id: old, quantity: '3' }]);
    expect(await stockOf(t.api, kale)).toEqual({ onHand: '7', held: '0', committed: '0', available: '7' });
    await expectStockConsistent(t.db);
  });

  it('ships everything as ordered from the suggested lots when no lines are given', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const kale = await w.product('Kale');
    await receiveLot(t.api, kale, { code: 'K-1', quantity: '4', bestBefore: '2026-12-10', locationId: cold });
    await receiveLot(t.api, kale, { code: 'K-2', quantity: '4', bestBefore: '2026-12-08' });
    const session = await createOfferSession(t.api, w.hub, [{ productId: kale }]);
    await buy(t.api, session.id, 'x', session.offerFor(kale), '6');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    const result = await t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(SHIP, { input: { producerOrderId: order, carrier: 'Van', trackingReference: 'R1' } });
    expect(result.shipProducerOrder.userErrors).toEqual([]);
    const { rows } = await t.db.query('SELECT code, quantity::text FROM lot WHERE product_id = $1 ORDER BY code', [kale]);
    expect(rows).toEqual([{ code: 'K-1', quantity: '2.000' }, { code: 'K-2', quantity: '0.000' }]);
    expect(await stockByLocation(t.api, kale)).toMatchObject({ Main: { onHand: '0' }, 'Cold store': { onHand: '2', committed: '0' } });
    await expectStockConsistent(t.db);
  });

  it('tells a retried shipment from a corrected one: a line without lots is not a line with none', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const chard = await w.product('Chard');
    await receiveLot(t.api, chard, { code: 'CH-1', quantity: '5' });
    const session = await createOfferSession(t.api, w.hub, [{ productId: chard }]);
    await buy(t.api, session.id, 'x', session.offerFor(chard), '3');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    const ship = async (line: Record<string, unknown>) =>
      (await t.api.data<{ shipProducerOrder: { userErrors: { code: string }[] } }>(SHIP, {
        input: { producerOrderId: order, carrier: 'Van', trackingReference: 'R7', lines: [{ productId: chard, quantity: '3', ...line }] },
      })).shipProducerOrder.userErrors.map((e) => e.code);
    // Shipped from the suggested lots (no `lots` on the line).
    expect(await ship({})).toEqual([]);
    expect(await ship({ lots: null })).toEqual([]);
    // "Nothing came from lots" is another shipment: refused, not answered as done.
    expect(await ship({ lots: [] })).toEqual(['INVALID_STATE']);
    expect((await t.db.query('SELECT quantity::text FROM lot WHERE product_id = $1', [chard])).rows).toEqual([{ quantity: '2.000' }]);
  });

  it('lists the picking for a delivery day as a batch, by zone and by wave, and as CSV', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const eggs = await w.product('Eggs', 'each');
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    await receiveLot(t.api, eggs, { code: 'E-1', quantity: '12', bestBefore: '2026-12-10' });
    await receiveLot(t.api, eggs, { code: 'E-2', quantity: '24', bestBefore: '2026-12-12', locationId: cold });
    const hubB = (await t.api.data<{ createHub: { hub: { id: string } } }>('mutation { createHub(input: { name: "Hub B" }) { hub { id } } }')).createHub.hub.id;
    const a = await createOfferSession(t.api, w.hub, [{ productId: eggs }]);
    const b = await createOfferSession(t.api, hubB, [{ productId: eggs }]);
    await buy(t.api, a.id, 'a1', a.offerFor(eggs), '10');
    await buy(t.api, b.id, 'b1', b.offerFor(eggs), '6');
    await closeSessions(t);

    const { pickList } = await t.api.data<{ pickList: {
      items: { product: { id: string }; quantity: string; lots: { lot: { code: string }; quantity: string }[] }[];
      zones: { location: { name: string }; items: { quantity: string }[] }[];
      waves: { hub: { id: string }; items: { quantity: string }[] }[];
    } }>(
      `query ($p: ID!, $d: String!) { pickList(producerId: $p, deliveryDay: $d) {
        items { product { id } quantity lots { lot { code } quantity } }
        zones { location { name } items { quantity } }
        waves { hub { id } items { quantity } } } }`,
      { p: w.farm, d: DELIVERY_DAY },
    );
    expect(pickList.items).toEqual([{ product: { id: eggs }, quantity: '16', lots: [{ lot: { code: 'E-1' }, quantity: '12' }, { lot: { code: 'E-2' }, quantity: '4' }] }]);
    expect(pickList.zones).toEqual([{ location: { name: 'Main' }, items: [{ quantity: '12' }] }, { location: { name: 'Cold store' }, items: [{ quantity: '4' }] }]);
    expect(pickList.waves.map((wave) => [wave.hub.id, wave.items[0]!.quantity]).sort()).toEqual([[w.hub, '10'], [hubB, '6']].sort());

    const other = await t.api.data<{ pickList: { items: unknown[] } }>('query ($p: ID!) { pickList(producerId: $p, deliveryDay: "2026-11-26") { items { quantity } } }', { p: w.farm });
    expect(other.pickList.items).toEqual([]);

    const producer = await t.as({ role: 'producer', producerId: w.farm });
    const csv = await fetch(new URL(`/csv/pick-list?producerId=${w.farm}&deliveryDay=${DELIVERY_DAY}&view=zone`, t.app.url), {
      headers: { authorization: `Bearer ${producer.token}` },
    });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    expect(csv.headers.get('content-disposition')).toBe(`attachment; filename="pick-list-${DELIVERY_DAY}.csv"`);
    expect(csv.headers.get('cache-control')).toBe('no-store');
    expect((await csv.text()).trim().split('\r\n')).toEqual([
      'location,product,sku,unit,total,lot,best_before,pick',
      expect.stringMatching(/^Main,Eggs,SKU-\w+,each,12,E-1,2026-12-10,12$/),
      expect.stringMatching(/^Cold store,Eggs,SKU-\w+,each,4,E-2,2026-12-12,4$/),
    ]);
    const pack = await fetch(new URL(`/csv/pack-list?producerId=${w.farm}&deliveryDay=${DELIVERY_DAY}`, t.app.url), {
      headers: { authorization: `Bearer ${(await t.as({ role: 'hub', hubId: hubB })).token}` },
    });
    const packRows = (await pack.text()).trim().split('\r\n');
    expect(packRows).toHaveLength(2); // the header, and Hub B's one customer line: a hub sees only its own
    expect(packRows[1]).toMatch(/^Hub B,.*,b1,false,.*,Eggs,SKU-\w+,each,6,$/);
    const stranger = await fetch(new URL(`/csv/pick-list?producerId=${w.farm}&deliveryDay=${DELIVERY_DAY}`, t.app.url), {
      headers: { authorization: `Bearer ${(await t.as({ role: 'hub', hubId: hubB })).token}` },
    });
    expect(stranger.status).toBe(403);
    const anonymous = await fetch(new URL(`/csv/pick-list?producerId=${w.farm}&deliveryDay=${DELIVERY_DAY}`, t.app.url));
    expect(anonymous.status).toBe(401);
    // A parameter given twice is refused by name, not read as absent.
    const twice = await fetch(new URL(`/csv/pick-list?producerId=${w.farm}&deliveryDay=${DELIVERY_DAY}&deliveryDay=2026-11-26`, t.app.url), {
      headers: { authorization: `Bearer ${producer.token}` },
    });
    expect(twice.status).toBe(400);
    expect(await twice.json()).toMatchObject({ code: 'BAD_USER_INPUT', userErrors: [{ code: 'INVALID_INPUT', field: ['deliveryDay'], message: 'give deliveryDay once, as plain text' }] });
    // So is one written as a list or a map (kept by the query parser as a name of its own), or
    // spelt in another case: each would otherwise be read as absent, and another list sent.
    const refusal = async (query: string) => {
      const answer = await fetch(new URL(`/csv/${query}`, t.app.url), { headers: { authorization: `Bearer ${producer.token}` } });
      return { status: answer.status, userErrors: ((await answer.json()) as { userErrors: unknown[] }).userErrors };
    };
    expect(await refusal(`pick-list?producerId=${w.farm}&deliveryDay=${DELIVERY_DAY}&view[]=zone`))
      .toEqual({ status: 400, userErrors: [{ code: 'INVALID_INPUT', field: ['view'], message: 'give view once, as plain text' }] });
    expect(await refusal(`pack-list?producerId=${w.farm}&deliveryDay=${DELIVERY_DAY}&hubId[x]=${hubB}`))
      .toEqual({ status: 400, userErrors: [{ code: 'INVALID_INPUT', field: ['hubId'], message: 'give hubId once, as plain text' }] });
    expect(await refusal(`pack-list?producerId=${w.farm}&deliveryDay=${DELIVERY_DAY}&hubid=${hubB}`))
      .toEqual({ status: 400, userErrors: [{ code: 'INVALID_INPUT', field: ['hubid'], message: '"hubid" is spelt hubId' }] });
    // A parameter after a thousand others is read all the same (Express's parser stopped at 1000),
    // and one no list reads is left alone, however it is written.
    const rowsOf = async (query: string) => {
      const answer = await fetch(new URL(`/csv/${query}`, t.app.url), { headers: { authorization: `Bearer ${producer.token}` } });
      return { status: answer.status, rows: (await answer.text()).trim().split('\r\n').length };
    };
    expect(await rowsOf(`pack-list?producerId=${w.farm}&deliveryDay=${DELIVERY_DAY}${'&'.repeat(1000)}&hubId=${hubB}`)).toEqual({ status: 200, rows: 2 });
    expect(await rowsOf(`pick-list?producerId=${w.farm}&deliveryDay=${DELIVERY_DAY}&tags[]=mail&utm_source=mail&view=zone`)).toEqual({ status: 200, rows: 3 });
  });
});
