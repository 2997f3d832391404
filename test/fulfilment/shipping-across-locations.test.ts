import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatesConsistent, expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { CANCEL_CUSTOMER_ORDER } from '../support/operations.js';
import { lockedElsewhere } from '../support/locked-elsewhere.js';
import { waitForLockWait } from '../support/wait.js';
import { createHub, orderMutation } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import {
  addLocation, adjustAt, buy, closeSessions, createOfferSession, pickLines, producerOrderOf, receiveLot, SHIP, stockByLocation, SWAP, world,
} from './support.js';

type ShipResult = { shipProducerOrder: { producerOrder: { fulfilmentState: string } | null; userErrors: { field: string[]; code: string; message: string }[] } };

/**
 * A hold takes stock by location priority, without looking at lots; the pick list then suggests
 * lots wherever they are. Shipping must work from what the pick list says, whichever location
 * the order's stock was committed at.
 */
describe('shipping when the goods are not where the order was committed', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  const ship = (input: Record<string, unknown>) => t.api.data<ShipResult>(SHIP, { input: { carrier: 'Van', ...input } });
  /** moveLot's userErrors: none when the lot moved. */
  const moveLot = async (lotId: string, toLocationId: string) => (await t.api.data<{ moveLot: { userErrors: { code: string; field: string[]; message: string }[] } }>(
    'mutation ($input: MoveLotInput!) { moveLot(input: $input) { userErrors { code field message } } }', { input: { lotId, toLocationId } },
  )).moveLot.userErrors;

  it('ships less than a split hold from the stock outside lots where the pick list puts it', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const leeks = await w.product('Leeks');
    const lot = await receiveLot(t.api, leeks, { code: 'L-1', quantity: '5', bestBefore: '2026-12-10' }); // at Main
    await adjustAt(t.api, leeks, cold, '5'); // outside lots, in the cold store
    const session = await createOfferSession(t.api, w.hub, [{ productId: leeks }]);
    await buy(t.api, session.id, 'ana', session.offerFor(leeks), '10'); // held 5 at Main, 5 in the cold store
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    const [line] = await pickLines(t.api, w.farm, order);
    expect(line!.lots.map((l) => [l.lot.code, l.quantity])).toEqual([['L-1', '5']]);

    // Three leeks of the lot were damaged: 3 ship from it, and the 5 kept outside lots in the cold store.
    const shipped = await ship({ producerOrderId: order, trackingReference: 'L', lines: [{ productId: leeks, quantity: '8', lots: [{ lotId: lot, quantity: '3' }] }] });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    expect(shipped.shipProducerOrder.producerOrder?.fulfilmentState).toBe('FULFILLED');
    const levels = await stockByLocation(t.api, leeks);
    expect(levels['Main']).toMatchObject({ onHand: '2', committed: '0', available: '2' });
    expect(levels['Cold store']).toMatchObject({ onHand: '0', committed: '0', available: '0' });
    await expectStockConsistent(t.db);
  });

  it('lets two orders ship lots that are each at the location the other was committed at', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const otherHub = await createHub(t.api, 'Riverside Hub');
    const apples = await w.product('Apples');
    const low = await receiveLot(t.api, apples, { code: 'LOW', quantity: '10', grade: 'CLASS_II', bestBefore: '2026-12-20' }); // Main
    const top = await receiveLot(t.api, apples, { code: 'TOP', quantity: '10', grade: 'EXTRA', bestBefore: '2026-12-10', locationId: cold });
    const extra = await createOfferSession(t.api, w.hub, [{ productId: apples, minGrade: 'EXTRA' }]);
    const any = await createOfferSession(t.api, otherHub, [{ productId: apples }]);
    await buy(t.api, extra.id, 'restaurant', extra.offerFor(apples), '10'); // held at Main, the first choice
    await buy(t.api, any.id, 'grocer', any.offerFor(apples), '10'); // held in the cold store, all that is left
    await closeSessions(t);
    const wantsExtra = await producerOrderOf(t.api, w.farm, extra.id);
    const takesAny = await producerOrderOf(t.api, w.farm, any.id);

    // The EXTRA lot is in the cold store, where the other order's stock is committed; its own commitment is at Main.
    const first = await ship({ producerOrderId: wantsExtra, trackingReference: 'A', lines: [{ productId: apples, quantity: '10', lots: [{ lotId: top, quantity: '10' }] }] });
    expect(first.shipProducerOrder.userErrors).toEqual([]);
    // The other order's commitment followed the free stock to Main, where its lot is.
    expect((await stockByLocation(t.api, apples))['Main']).toMatchObject({ onHand: '10', committed: '10', available: '0' });
    const [line] = await pickLines(t.api, w.farm, takesAny);
    expect(line!.lots.map((l) => [l.lot.code, l.location.name, l.quantity])).toEqual([['LOW', 'Main', '10']]);
    const { rows: moved } = await t.db.query(
      "SELECT location_id, committed_delta::text AS delta FROM stock_movement WHERE producer_order_id = $1 AND kind = 'COMMIT' AND reason IS NOT NULL ORDER BY committed_delta",
      [takesAny],
    );
    expect(moved).toEqual([{ location_id: cold, delta: '-10.000' }, { location_id: w.main, delta: '10.000' }]);

    const second = await ship({ producerOrderId: takesAny, trackingReference: 'B' });
    expect(second.shipProducerOrder.userErrors).toEqual([]);
    const levels = await stockByLocation(t.api, apples);
    expect(levels['Main']).toMatchObject({ onHand: '0', committed: '0', available: '0' });
    expect(levels['Cold store']).toMatchObject({ onHand: '0', committed: '0', available: '0' });
    const { rows: lots } = await t.db.query('SELECT quantity::text FROM lot WHERE id = ANY($1) ORDER BY code', [[low, top]]);
    expect(lots.map((l) => l.quantity)).toEqual(['0.000', '0.000']);
    await expectStockConsistent(t.db);
    // Each order committed once by its session; the commitments moved between them add up to nothing.
    await expectStatesConsistent(t.db);
  });

  it('moves only commitments that back lots, never one an order ships from stock kept outside lots there', async () => {
    // Which order's commitment would be taken first follows their (random) ids: three rounds.
    for (let round = 0; round < 3; round += 1) {
      t.clock.set('2026-11-23T09:00:00+01:00');
      const w = await world(t);
      const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
      const [hubB, hubC] = [await createHub(t.api, `Hub B${round}`), await createHub(t.api, `Hub C${round}`)];
      const apples = await w.product('Apples');
      await receiveLot(t.api, apples, { code: 'LOW', quantity: '10', grade: 'CLASS_II', bestBefore: '2026-12-20' }); // Main
      const top = await receiveLot(t.api, apples, { code: 'TOP', quantity: '10', grade: 'EXTRA', bestBefore: '2026-12-10', locationId: cold });
      await adjustAt(t.api, apples, cold, '10'); // outside lots, in the cold store
      const a = await createOfferSession(t.api, w.hub, [{ productId: apples, minGrade: 'EXTRA' }]);
      const b = await createOfferSession(t.api, hubB, [{ productId: apples, minShelfLifeDays: 40 }]); // no lot meets it
      const c = await createOfferSession(t.api, hubC, [{ productId: apples }]);
      await buy(t.api, a.id, 'a', a.offerFor(apples), '10'); // held at Main
      await buy(t.api, b.id, 'b', b.offerFor(apples), '10'); // in the cold store
      await buy(t.api, c.id, 'c', c.offerFor(apples), '10'); // in the cold store
      await closeSessions(t);
      const [orderA, orderB, orderC] = [await producerOrderOf(t.api, w.farm, a.id), await producerOrderOf(t.api, w.farm, b.id), await producerOrderOf(t.api, w.farm, c.id)];
      const planOfB = async () => (await pickLines(t.api, w.farm, orderB)).map((l) => [l.untracked.map((u) => [u.location.name, u.quantity]), l.short]);
      expect(await planOfB()).toEqual([[[['Cold store', '10']], '0']]);

      const first = await ship({ producerOrderId: orderA, trackingReference: 'A', lines: [{ productId: apples, quantity: '10', lots: [{ lotId: top, quantity: '10' }] }] });
      expect(first.shipProducerOrder.userErrors).toEqual([]);
      // C (whose pick list takes the lot at Main) moved, not B, which ships the cold store's loose apples.
      const { rows } = await t.db.query("SELECT DISTINCT producer_order_id FROM stock_movement WHERE product_id = $1 AND kind = 'COMMIT' AND reason IS NOT NULL", [apples]);
      expect(rows).toEqual([{ producer_order_id: orderC }]);
      expect(await planOfB()).toEqual([[[['Cold store', '10']], '0']]);
      for (const order of [orderB, orderC]) {
        expect((await ship({ producerOrderId: order, trackingReference: order })).shipProducerOrder.userErrors).toEqual([]);
      }
      await expectStockConsistent(t.db);
    }
  });

  it('plans around a lot whose location an open session holds, and ships as planned from the order\'s own stock', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const pears = await w.product('Pears');
    await adjustAt(t.api, pears, w.main, '10');
    const lot = await receiveLot(t.api, pears, { code: 'P-1', quantity: '4', bestBefore: '2026-12-10', locationId: cold });
    const session = await createOfferSession(t.api, w.hub, [{ productId: pears }]);
    await buy(t.api, session.id, 'ana', session.offerFor(pears), '4'); // held at Main
    // Another session, still open, holds everything in the cold store: holds do not move.
    const open = await createOfferSession(t.api, w.hub, [{ productId: pears }], { closesAt: '2026-11-24T20:00:00+01:00' });
    await buy(t.api, open.id, 'ben', open.offerFor(pears), '10');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    const before = await stockByLocation(t.api, pears);
    expect(before['Cold store']).toMatchObject({ onHand: '4', held: '4' });

    // Named, the lot is refused: no commitment in the cold store can move.
    const refused = await ship({ producerOrderId: order, trackingReference: 'P', lines: [{ productId: pears, quantity: '4', lots: [{ lotId: lot, quantity: '4' }] }] });
    expect(refused.shipProducerOrder.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'lots'] }]);
    expect(await stockByLocation(t.api, pears)).toEqual(before);
    // So the pick list does not suggest it: the order's own stock kept outside lots at Main ships.
    const [line] = await pickLines(t.api, w.farm, order);
    expect(line!.lots).toEqual([]);
    expect(line!.untracked.map((u) => [u.location.name, u.quantity])).toEqual([['Main', '4']]);
    expect(line!.short).toBe('0');
    const asPlanned = await ship({ producerOrderId: order, trackingReference: 'P' });
    expect(asPlanned.shipProducerOrder.userErrors).toEqual([]);
    const levels = await stockByLocation(t.api, pears);
    expect(levels['Main']).toMatchObject({ onHand: '6', held: '6', committed: '0' });
    expect(levels['Cold store']).toEqual(before['Cold store']);
    await expectStockConsistent(t.db);
  });

  it('shares out what no open session holds at a location among the picks of every order', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const otherHub = await createHub(t.api, 'Hillside Hub');
    const plums = await w.product('Plums');
    await adjustAt(t.api, plums, w.main, '8');
    await receiveLot(t.api, plums, { code: 'PL-1', quantity: '8', bestBefore: '2026-12-10', locationId: cold });
    const first = await createOfferSession(t.api, w.hub, [{ productId: plums }]);
    const second = await createOfferSession(t.api, otherHub, [{ productId: plums }]);
    await buy(t.api, first.id, 'ana', first.offerFor(plums), '4'); // held at Main
    await buy(t.api, second.id, 'cleo', second.offerFor(plums), '4'); // held at Main
    const open = await createOfferSession(t.api, w.hub, [{ productId: plums }], { closesAt: '2026-11-24T20:00:00+01:00' });
    await buy(t.api, open.id, 'ben', open.offerFor(plums), '4'); // held in the cold store: half the lot's stock
    await closeSessions(t);
    const orders = [await producerOrderOf(t.api, w.farm, first.id), await producerOrderOf(t.api, w.farm, second.id)];
    expect((await stockByLocation(t.api, plums))['Cold store']).toMatchObject({ onHand: '8', held: '4' });

    // The lot has 8, its location only 4 no open session holds: one order is given it, the other its own stock at Main.
    const plans = await Promise.all(orders.map(async (o) => (await pickLines(t.api, w.farm, o))[0]!));
    const planned = (where: string) => plans.flatMap((l) => [...l.lots.filter((p) => p.location.name === where), ...l.untracked.filter((u) => u.location.name === where)]);
    expect(planned('Cold store').map((p) => p.quantity)).toEqual(['4']);
    expect(planned('Main').map((p) => p.quantity)).toEqual(['4']);
    expect(plans.map((l) => l.short)).toEqual(['0', '0']);
    // Each ships as planned, whichever goes first.
    for (const order of [...orders].reverse()) {
      expect((await ship({ producerOrderId: order, trackingReference: order })).shipProducerOrder.userErrors).toEqual([]);
    }
    const levels = await stockByLocation(t.api, plums);
    expect(levels['Main']).toMatchObject({ onHand: '4', held: '0', committed: '0' });
    expect(levels['Cold store']).toMatchObject({ onHand: '4', held: '4', committed: '0' });
    await expectStockConsistent(t.db);
  });

  it('ships stock kept outside lots from where the plan shares it out, not from wherever there is some', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const otherHub = await createHub(t.api, 'Orchard Hub');
    const quinces = await w.product('Quinces');
    await adjustAt(t.api, quinces, w.main, '6');
    await adjustAt(t.api, quinces, cold, '4');
    const atMain = await receiveLot(t.api, quinces, { code: 'Q-1', quantity: '2', bestBefore: '2026-12-10' });
    const inCold = await receiveLot(t.api, quinces, { code: 'Q-2', quantity: '2', bestBefore: '2026-12-12', locationId: cold });
    const open = await createOfferSession(t.api, w.hub, [{ productId: quinces }], { closesAt: '2026-11-24T20:00:00+01:00' });
    await buy(t.api, open.id, 'zoe', open.offerFor(quinces), '4'); // held at Main, by a session still open
    const later = await createOfferSession(t.api, w.hub, [{ productId: quinces }]);
    await buy(t.api, later.id, 'xavier', later.offerFor(quinces), '8'); // held 4 at Main, 4 in the cold store (of its 6)
    const sooner = await createOfferSession(t.api, otherHub, [{ productId: quinces }], { deliversAt: '2026-11-24T18:00:00+01:00' });
    await buy(t.api, sooner.id, 'yann', sooner.offerFor(quinces), '2'); // held in the cold store
    await closeSessions(t);
    const [x, y] = [await producerOrderOf(t.api, w.farm, later.id), await producerOrderOf(t.api, w.farm, sooner.id)];

    // The first delivery takes Main's lot; of Main's 8, 4 are held, so Xavier's order takes only 2
    // of the 6 kept outside lots there, the cold store's lot, and its commitment in the cold store.
    const plan = async (order: string) => (await pickLines(t.api, w.farm, order)).map((l) => ({
      lots: l.lots.map((p) => [p.lot.id, p.location.name, p.quantity]), untracked: l.untracked.map((u) => [u.location.name, u.quantity]), short: l.short,
    }));
    expect(await plan(y)).toEqual([{ lots: [[atMain, 'Main', '2']], untracked: [], short: '0' }]);
    expect(await plan(x)).toEqual([{ lots: [[inCold, 'Cold store', '2']], untracked: [['Main', '2'], ['Cold store', '4']], short: '0' }]);
    // Shipped as planned, it takes 2 at Main, not the 6 kept outside lots there, so the first
    // delivery's lot ships too (its commitment moves from the cold store to Main).
    for (const order of [x, y]) {
      expect((await ship({ producerOrderId: order, trackingReference: order })).shipProducerOrder.userErrors).toEqual([]);
    }
    const levels = await stockByLocation(t.api, quinces);
    expect(levels['Main']).toMatchObject({ onHand: '4', held: '4', committed: '0' });
    expect(levels['Cold store']).toMatchObject({ onHand: '0', held: '0', committed: '0' });
    await expectStockConsistent(t.db);
  });

  it('keeps a lot a picker chose where an open session has since taken the stock, and says so when it ships as planned', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const pears = await w.product('Pears');
    await adjustAt(t.api, pears, w.main, '10');
    const suggested = await receiveLot(t.api, pears, { code: 'P-1', quantity: '4', bestBefore: '2026-12-10', locationId: cold });
    const chosen = await receiveLot(t.api, pears, { code: 'P-2', quantity: '4', bestBefore: '2026-12-12', locationId: cold });
    const session = await createOfferSession(t.api, w.hub, [{ productId: pears }]);
    await buy(t.api, session.id, 'ana', session.offerFor(pears), '4'); // held at Main
    const open = await createOfferSession(t.api, w.hub, [{ productId: pears }], { closesAt: '2026-11-24T20:00:00+01:00' });
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    expect((await pickLines(t.api, w.farm, order))[0]!.lots.map((l) => l.lot.id)).toEqual([suggested]);
    const { swapLot } = await t.api.data<{ swapLot: { userErrors: unknown[] } }>(SWAP, { input: { producerOrderId: order, productId: pears, fromLotId: suggested, toLotId: chosen } });
    expect(swapLot.userErrors).toEqual([]);
    // Then the open session holds everything left at Main and in the cold store.
    await buy(t.api, open.id, 'ben', open.offerFor(pears), '14');
    const before = await stockByLocation(t.api, pears);
    expect(before['Cold store']).toMatchObject({ onHand: '8', held: '8' });

    // The picker's choice stays; shipped as planned, the answer names the order, not lines it was not sent, and says what to do.
    expect((await pickLines(t.api, w.farm, order))[0]!.lots.map((l) => [l.lot.id, l.pinned])).toEqual([[chosen, true]]);
    const asPlanned = await ship({ producerOrderId: order, trackingReference: 'P' });
    expect(asPlanned.shipProducerOrder.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['producerOrderId'] }]);
    expect(asPlanned.shipProducerOrder.userErrors[0]!.message).toContain('name the lines to ship');
    // So is a line sent without lots: it names the line, not lots it was not sent.
    const lineAsPlanned = await ship({ producerOrderId: order, trackingReference: 'P', lines: [{ productId: pears, quantity: '4' }] });
    expect(lineAsPlanned.shipProducerOrder.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0'] }]);
    expect(lineAsPlanned.shipProducerOrder.userErrors[0]!.message).toContain("name the line's lots");
    expect(await stockByLocation(t.api, pears)).toEqual(before);
    // Named without lots, the order ships from its own stock kept outside lots at Main.
    const fromMain = await ship({ producerOrderId: order, trackingReference: 'P', lines: [{ productId: pears, quantity: '4', lots: [] }] });
    expect(fromMain.shipProducerOrder.userErrors).toEqual([]);
    await expectStockConsistent(t.db);
  });

  it('refuses a swap to a lot whose location an open session holds, and changes nothing', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const pears = await w.product('Pears');
    const suggested = await receiveLot(t.api, pears, { code: 'P-1', quantity: '4', bestBefore: '2026-12-10' }); // at Main
    const inCold = await receiveLot(t.api, pears, { code: 'P-2', quantity: '4', bestBefore: '2026-12-12', locationId: cold });
    const session = await createOfferSession(t.api, w.hub, [{ productId: pears }]);
    await buy(t.api, session.id, 'ana', session.offerFor(pears), '4'); // held at Main
    const open = await createOfferSession(t.api, w.hub, [{ productId: pears }], { closesAt: '2026-11-24T20:00:00+01:00' });
    const held = await buy(t.api, open.id, 'ben', open.offerFor(pears), '3'); // held in the cold store, by a session still open
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    const plan = async () => (await pickLines(t.api, w.farm, order)).map((l) => l.lots.map((p) => [p.lot.id, p.quantity, p.pinned]));
    expect(await plan()).toEqual([[[suggested, '4', false]]]);

    // Only 1 of the cold store's 4 is not held: the lot there could not ship as the line's 4.
    const swap = () => t.api.data<{ swapLot: { userErrors: { field: string[]; code: string; message: string }[] } }>(SWAP, {
      input: { producerOrderId: order, productId: pears, fromLotId: suggested, toLotId: inCold },
    });
    const refused = (await swap()).swapLot.userErrors;
    expect(refused).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['toLotId'] }]);
    expect(refused[0]!.message).toContain('1 can be picked there');
    expect(await plan()).toEqual([[[suggested, '4', false]]]);

    // Once the open session lets its hold go, the same swap is taken, and ships as planned.
    expect((await orderMutation(t.api, CANCEL_CUSTOMER_ORDER, held)).customerOrder?.status).toBe('CANCELLED');
    expect((await swap()).swapLot.userErrors).toEqual([]);
    expect(await plan()).toEqual([[[inCold, '4', true]]]);
    expect((await ship({ producerOrderId: order, trackingReference: 'P' })).shipProducerOrder.userErrors).toEqual([]);
    await expectStockConsistent(t.db);
  });

  it("refuses a swap whose pin would take the room another order's stock kept outside lots there needs", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const pears = await w.product('Pears');
    // Cold store: 2 kept outside lots and a CLASS_I lot of 4.
    await adjustAt(t.api, pears, cold, '2');
    const inCold = await receiveLot(t.api, pears, { code: 'P-COLD', quantity: '4', bestBefore: '2026-12-12', locationId: cold });
    // A restaurant's session asks for EXTRA: no lot is, so its 2 ship from the stock outside lots, held in the cold store.
    const extra = await createOfferSession(t.api, w.hub, [{ productId: pears, minGrade: 'EXTRA' }]);
    await buy(t.api, extra.id, 'restaurant', extra.offerFor(pears), '2');
    // Main: a CLASS_II lot of 4; the other session's 4 are held there.
    const atMain = await receiveLot(t.api, pears, { code: 'P-MAIN', quantity: '4', grade: 'CLASS_II', bestBefore: '2026-12-10' });
    const any = await createOfferSession(t.api, w.hub, [{ productId: pears }]);
    await buy(t.api, any.id, 'ana', any.offerFor(pears), '4');
    // A session still open holds 2 in the cold store.
    const open = await createOfferSession(t.api, w.hub, [{ productId: pears }], { closesAt: '2026-11-24T20:00:00+01:00' });
    await buy(t.api, open.id, 'ben', open.offerFor(pears), '2');
    await closeSessions(t);
    const [order, restaurant] = [await producerOrderOf(t.api, w.farm, any.id), await producerOrderOf(t.api, w.farm, extra.id)];
    expect((await pickLines(t.api, w.farm, restaurant))[0]).toMatchObject({ lots: [], untracked: [{ location: { name: 'Cold store' }, quantity: '2' }], short: '0' });

    // Cold store: 6 on hand, 2 held by the open session, 2 the restaurant's: 2 can be picked there, not 4.
    const { swapLot } = await t.api.data<{ swapLot: { userErrors: { field: string[]; code: string; message: string }[] } }>(SWAP, {
      input: { producerOrderId: order, productId: pears, fromLotId: atMain, toLotId: inCold },
    });
    expect(swapLot.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['toLotId'], message: expect.stringContaining('2 can be picked there') }]);
    for (const [producerOrderId, trackingReference] of [[order, 'A'], [restaurant, 'B']]) {
      expect((await ship({ producerOrderId, trackingReference })).shipProducerOrder.userErrors).toEqual([]);
    }
    await expectStockConsistent(t.db);
  });

  it('lets a swap and a transfer that each fit alone, but not together, run at the same moment only one after the other', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const depot = await addLocation(t.api, w.farm, 'Depot', 3);
    const pears = await w.product('Pears');
    const atMain = await receiveLot(t.api, pears, { code: 'P-MAIN', quantity: '4', bestBefore: '2026-12-10' });
    // Cold store: a lot of 4 and 2 kept outside lots.
    const inCold = await receiveLot(t.api, pears, { code: 'P-COLD', quantity: '4', bestBefore: '2026-12-12', locationId: cold });
    await adjustAt(t.api, pears, cold, '2');
    const session = await createOfferSession(t.api, w.hub, [{ productId: pears }]);
    await buy(t.api, session.id, 'ana', session.offerFor(pears), '4'); // held at Main
    const open = await createOfferSession(t.api, w.hub, [{ productId: pears }], { closesAt: '2026-11-24T20:00:00+01:00' });
    await buy(t.api, open.id, 'ben', open.offerFor(pears), '2'); // held in the cold store, by a session still open
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);

    // Alone, either fits: the cold store's 4 not held take the lot's 4, or 2 of its 6 leave for
    // the depot. Together they do not: the lot's 4 would stand where only 2 are not held.
    // The transfer is held at its last write (its movement names the depot, locked here).
    const depotLocked = await lockedElsewhere(t.db, 'SELECT 1 FROM location WHERE id = $1 FOR UPDATE', [depot]);
    const transfer = t.api.data<{ transferStock: { userErrors: { code: string }[] } }>(
      op.TRANSFER_STOCK, { input: { productId: pears, fromLocationId: cold, toLocationId: depot, quantity: '2' } });
    await waitForLockWait(t.db, 'the transfer to wait at its last write');
    const swap = t.api.data<{ swapLot: { userErrors: { code: string }[] } }>(SWAP, {
      input: { producerOrderId: order, productId: pears, fromLotId: atMain, toLotId: inCold },
    });
    await waitForLockWait(t.db, 'the swap to wait for the transfer', 2);
    await depotLocked.release();
    expect((await transfer).transferStock.userErrors).toEqual([]);
    // The swap reads the plan after the transfer: the cold store no longer has room for the lot.
    expect((await swap).swapLot.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK' }]);
    expect((await pickLines(t.api, w.farm, order))[0]).toMatchObject({ lots: [{ lot: { id: atMain }, quantity: '4', pinned: false }], short: '0' });
    expect((await ship({ producerOrderId: order, trackingReference: 'P' })).shipProducerOrder.userErrors).toEqual([]);
    await expectStockConsistent(t.db);
  });

  it("gives a later order back the room its own stock needs, when an earlier order's lot took it and that order has stock of its own", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const otherHub = await createHub(t.api, 'Orchard hub');
    const pears = await w.product('Pears');
    await adjustAt(t.api, pears, w.main, '5');
    await adjustAt(t.api, pears, cold, '5');
    await receiveLot(t.api, pears, { code: 'A', quantity: '5', bestBefore: '2026-12-10' }); // at Main
    // Bea's stock is held (then committed) at Main, an open session holds Main's other 5, and
    // Ana's (delivering first) is held in the cold store.
    const later = await createOfferSession(t.api, w.hub, [{ productId: pears }]);
    await buy(t.api, later.id, 'bea', later.offerFor(pears), '5');
    const open = await createOfferSession(t.api, w.hub, [{ productId: pears }], { closesAt: '2026-11-24T20:00:00+01:00' });
    await buy(t.api, open.id, 'zoe', open.offerFor(pears), '5');
    const sooner = await createOfferSession(t.api, otherHub, [{ productId: pears }], { deliversAt: '2026-11-24T18:00:00+01:00' });
    await buy(t.api, sooner.id, 'ana', sooner.offerFor(pears), '5');
    await closeSessions(t);
    const [ana, bea] = [await producerOrderOf(t.api, w.farm, sooner.id), await producerOrderOf(t.api, w.farm, later.id)];
    const plan = async (order: string) => (await pickLines(t.api, w.farm, order)).map((l) => ({
      lots: l.lots.map((p) => p.lot.code), untracked: l.untracked.map((u) => [u.location.name, u.quantity]), short: l.short,
    }));
    // Lot A would take Main's only room that no session holds, which Bea's own stock needs:
    // Ana takes her own stock in the cold store instead, and neither is short.
    expect(await plan(ana)).toEqual([{ lots: [], untracked: [['Cold store', '5']], short: '0' }]);
    expect(await plan(bea)).toEqual([{ lots: [], untracked: [['Main', '5']], short: '0' }]);
    for (const [order, reference] of [[bea, 'B'], [ana, 'A']] as const) {
      const shipped = await ship({ producerOrderId: order, trackingReference: reference });
      expect(shipped.shipProducerOrder.userErrors).toEqual([]);
      expect(shipped.shipProducerOrder.producerOrder?.fulfilmentState).toBe('FULFILLED');
    }
    await expectStockConsistent(t.db);
  });

  it("refuses to move a lot away from where an open session holds stock, when another order's lot there needs that room", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const depot = await addLocation(t.api, w.farm, 'Depot', 3);
    const pears = await w.product('Pears');
    // The order wants EXTRA; its own stock, in the cold store, is a CLASS_II lot.
    await receiveLot(t.api, pears, { code: 'C-LOW', quantity: '5', grade: 'CLASS_II', bestBefore: '2026-12-10', locationId: cold });
    const session = await createOfferSession(t.api, w.hub, [{ productId: pears, minGrade: 'EXTRA' }]);
    await buy(t.api, session.id, 'ana', session.offerFor(pears), '5');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    // Main then gets an EXTRA lot and a CLASS_II one, and an open session holds 5 there: the
    // order's EXTRA lot needs the CLASS_II lot's room at Main.
    await receiveLot(t.api, pears, { code: 'M-EXTRA', quantity: '5', grade: 'EXTRA', bestBefore: '2026-12-10', locationId: w.main });
    const low = await receiveLot(t.api, pears, { code: 'M-LOW', quantity: '5', grade: 'CLASS_II', bestBefore: '2026-12-10', locationId: w.main });
    const open = await createOfferSession(t.api, w.hub, [{ productId: pears }], { closesAt: '2026-11-24T20:00:00+01:00' });
    await buy(t.api, open.id, 'ben', open.offerFor(pears), '5');
    const lines = async () => (await pickLines(t.api, w.farm, order)).map((l) => ({ lots: l.lots.map((p) => [p.lot.code, p.quantity]), short: l.short }));
    expect(await lines()).toEqual([{ lots: [['M-EXTRA', '5']], short: '0' }]);
    const stockBefore = await stockByLocation(t.api, pears);

    const { moveLot: refused } = await t.api.data<{ moveLot: { lot: { id: string } | null; userErrors: { code: string; field: string[] }[] } }>(
      'mutation ($input: MoveLotInput!) { moveLot(input: $input) { lot { id } userErrors { code field } } }',
      { input: { lotId: low, toLocationId: depot } },
    );
    expect(refused).toEqual({ lot: null, userErrors: [{ code: 'INSUFFICIENT_STOCK', field: ['lotId'] }] });
    expect(await stockByLocation(t.api, pears)).toEqual(stockBefore);
    expect(await lines()).toEqual([{ lots: [['M-EXTRA', '5']], short: '0' }]);
    const shipped = await ship({ producerOrderId: order, trackingReference: 'T-1' });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    await expectStockConsistent(t.db);
  });

  it('moves a lot committed to the orders that ship it, their commitments with it, and not one an open session holds', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const depot = await addLocation(t.api, w.farm, 'Depot', 2);
    const figs = await w.product('Figs');
    const committed = await receiveLot(t.api, figs, { code: 'F-1', quantity: '5', bestBefore: '2026-12-10' }); // at Main
    const session = await createOfferSession(t.api, w.hub, [{ productId: figs }]);
    await buy(t.api, session.id, 'ana', session.offerFor(figs), '5');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    const where = async () => (await pickLines(t.api, w.farm, order)).map((l) => ({ lots: l.lots.map((p) => [p.lot.code, p.location.name]), short: l.short }));
    expect(await where()).toEqual([{ lots: [['F-1', 'Main']], short: '0' }]);

    // Its stock is all committed, to the order that ships the lot: the commitment goes with it.
    expect(await moveLot(committed, depot)).toEqual([]);
    const stock = await stockByLocation(t.api, figs);
    expect({ main: stock.Main, depot: stock.Depot }).toMatchObject({ main: { onHand: '0', committed: '0' }, depot: { onHand: '5', committed: '5' } });
    expect(await where()).toEqual([{ lots: [['F-1', 'Depot']], short: '0' }]);
    const { rows: ledger } = await t.db.query<{ kind: string; delta: string }>(
      `SELECT m.kind, m.committed_delta::text AS delta FROM stock_movement m JOIN location l ON l.id = m.location_id
        WHERE m.product_id = $1 AND m.reason = 'commitment moved with lot F-1' ORDER BY l.name`, [figs]);
    expect(ledger).toEqual([{ kind: 'COMMIT', delta: '5.000' }, { kind: 'COMMIT', delta: '-5.000' }]); // Depot, then Main

    // Held stock never moves: a lot an open session holds stays where it is.
    const held = await receiveLot(t.api, figs, { code: 'F-2', quantity: '5', bestBefore: '2026-12-10' }); // at Main
    const open = await createOfferSession(t.api, w.hub, [{ productId: figs }], { closesAt: '2026-11-24T20:00:00+01:00' });
    await buy(t.api, open.id, 'ben', open.offerFor(figs), '5');
    expect(await moveLot(held, depot)).toEqual([expect.objectContaining({ code: 'INSUFFICIENT_STOCK', field: ['lotId'] })]);
    expect((await stockByLocation(t.api, figs)).Main).toMatchObject({ onHand: '5', held: '5' });

    const shipped = await ship({ producerOrderId: order, trackingReference: 'F' });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    await expectStockConsistent(t.db);
  });

  it("moves with a lot only the commitment its orders' picks of it need, not what backs their stock kept outside lots there", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const depot = await addLocation(t.api, w.farm, 'Depot', 2);
    const cold = await addLocation(t.api, w.farm, 'Cold', 3);
    const figs = await w.product('Figs');
    const lot = await receiveLot(t.api, figs, { code: 'F-1', quantity: '5', bestBefore: '2026-12-10' }); // Main, CLASS_I
    await receiveLot(t.api, figs, { code: 'D-LOW', quantity: '3', grade: 'CLASS_II', bestBefore: '2026-12-10', locationId: depot });
    const session = await createOfferSession(t.api, w.hub, [{ productId: figs, minGrade: 'CLASS_I' }]);
    await buy(t.api, session.id, 'ana', session.offerFor(figs), '8'); // held 5 at Main, 3 at the depot
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    await adjustAt(t.api, figs, w.main, '3'); // 3 kept outside lots at Main, which the order ships
    const where = async () => (await pickLines(t.api, w.farm, order)).map((l) => ({
      lots: l.lots.map((p) => [p.lot.code, p.location.name]), untracked: l.untracked.map((u) => [u.location.name, u.quantity]), short: l.short,
    }));
    expect(await where()).toEqual([{ lots: [['F-1', 'Main']], untracked: [['Main', '3']], short: '0' }]);

    // 2 of its 5 committed at Main go with the lot: the other 3 back what it ships from Main.
    expect(await moveLot(lot, cold)).toEqual([]);
    expect(await where()).toEqual([{ lots: [['F-1', 'Cold']], untracked: [['Main', '3']], short: '0' }]);
    const stock = await stockByLocation(t.api, figs);
    expect({ main: stock.Main, cold: stock.Cold }).toMatchObject({ main: { onHand: '3', committed: '3' }, cold: { onHand: '5', committed: '2' } });
    const shipped = await ship({ producerOrderId: order, trackingReference: 'F' });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    await expectStockConsistent(t.db);
  });

  it('moves the commitment with the lot its order picks even when other stock there could stand in, so the other lot can move after it', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold', 2);
    const depot = await addLocation(t.api, w.farm, 'Depot', 3);
    const figs = await w.product('Figs');
    const picked = await receiveLot(t.api, figs, { code: 'F-1', quantity: '5', bestBefore: '2026-12-10' }); // at Main
    const spare = await receiveLot(t.api, figs, { code: 'F-2', quantity: '5', bestBefore: '2026-12-20' }); // at Main, picked by nobody
    const session = await createOfferSession(t.api, w.hub, [{ productId: figs }]);
    await buy(t.api, session.id, 'ana', session.offerFor(figs), '5'); // committed at Main
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    expect(await moveLot(picked, cold)).toEqual([]);
    const committed = async () => Object.fromEntries(Object.entries(await stockByLocation(t.api, figs)).map(([name, s]) => [name, s.committed]));
    expect(await committed()).toEqual({ Main: '0', Cold: '5', Depot: '0' });
    expect(await moveLot(spare, depot)).toEqual([]);
    expect((await pickLines(t.api, w.farm, order)).map((l) => ({ lots: l.lots.map((p) => [p.lot.code, p.location.name]), short: l.short })))
      .toEqual([{ lots: [['F-1', 'Cold']], short: '0' }]);
    await expectStockConsistent(t.db);
  });

  it('moves a lot whose commitment, taken along, would turn the plan against another order: the commitment then stays, when other stock there can stand in', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const figs = await w.product('Figs');
    const lot = await receiveLot(t.api, figs, { code: 'A', quantity: '5', bestBefore: '2026-12-10', locationId: cold });
    await adjustAt(t.api, figs, cold, '3');
    const first = await createOfferSession(t.api, w.hub, [{ productId: figs }]);
    await buy(t.api, first.id, 'ana', first.offerFor(figs), '8'); // all in the cold store: Main has none
    await adjustAt(t.api, figs, w.main, '3');
    // Ben's hub wants EXTRA figs: lot A (CLASS_I) is not for him, only the stock kept outside lots.
    const later = await createOfferSession(t.api, w.hub, [{ productId: figs, minGrade: 'EXTRA' }], { deliversAt: '2026-11-26T08:00:00+01:00' });
    await buy(t.api, later.id, 'ben', later.offerFor(figs), '3'); // at Main
    await closeSessions(t);
    const [ana, ben] = [await producerOrderOf(t.api, w.farm, first.id), await producerOrderOf(t.api, w.farm, later.id)];
    await adjustAt(t.api, figs, cold, '5'); // spare stock in the cold store
    const plan = async (order: string) => (await pickLines(t.api, w.farm, order)).map((l) => ({
      lots: l.lots.map((p) => [p.lot.code, p.location.name]), untracked: l.untracked.map((u) => [u.location.name, u.quantity]), short: l.short,
    }));
    expect(await plan(ben)).toEqual([{ lots: [], untracked: [['Main', '3']], short: '0' }]);

    expect(await moveLot(lot, w.main)).toEqual([]);
    expect(await plan(ana)).toEqual([{ lots: [['A', 'Main']], untracked: [['Cold store', '3']], short: '0' }]);
    expect(await plan(ben)).toEqual([{ lots: [], untracked: [['Main', '3']], short: '0' }]);
    // Ana's commitment stayed in the cold store, the spare stock there standing in for the lot's;
    // the first try, with it moved, left nothing behind.
    const stock = await stockByLocation(t.api, figs);
    expect({ main: stock.Main!.committed, cold: stock['Cold store']!.committed }).toEqual({ main: '3', cold: '8' });
    const { rows: [{ moved }] } = await t.db.query<{ moved: number }>("SELECT count(*)::int AS moved FROM stock_movement WHERE product_id = $1 AND reason LIKE 'commitment moved with lot%'", [figs]);
    expect(moved).toBe(0);
    for (const order of [ana, ben]) expect((await ship({ producerOrderId: order, trackingReference: order })).shipProducerOrder.userErrors).toEqual([]);
    await expectStockConsistent(t.db);
  });

  it('moves with a lot its whole commitment when the line picks it twice (pinned and suggested) and ships stock kept outside lots there too', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold', 2);
    const figs = await w.product('Figs');
    const a = await receiveLot(t.api, figs, { code: 'A', quantity: '4', bestBefore: '2026-12-10' });
    const b = await receiveLot(t.api, figs, { code: 'B', quantity: '3', bestBefore: '2026-12-12' });
    const c = await receiveLot(t.api, figs, { code: 'C', quantity: '5', bestBefore: '2026-12-20' });
    await adjustAt(t.api, figs, w.main, '3');
    const session = await createOfferSession(t.api, w.hub, [{ productId: figs }]);
    await buy(t.api, session.id, 'ana', session.offerFor(figs), '7'); // all committed at Main
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    const { swapLot } = await t.api.data<{ swapLot: { userErrors: unknown[] } }>(SWAP, { input: { producerOrderId: order, productId: figs, fromLotId: b, toLotId: c } });
    expect(swapLot.userErrors).toEqual([]);
    for (const [lotId, delta] of [[b, '-3'], [a, '-4']] as const) {
      const { adjustStock } = await t.api.data<{ adjustStock: { userErrors: unknown[] } }>(
        'mutation ($input: AdjustStockInput!) { adjustStock(input: $input) { userErrors { code } } }', { input: { productId: figs, lotId, delta } },
      );
      expect(adjustStock.userErrors).toEqual([]);
    }
    const plan = async () => (await pickLines(t.api, w.farm, order)).map((l) => ({
      lots: l.lots.map((p) => [p.lot.code, p.location.name, p.quantity, p.pinned]), untracked: l.untracked.map((u) => [u.location.name, u.quantity]), short: l.short,
    }));
    expect(await plan()).toEqual([{ lots: [['C', 'Main', '3', true], ['C', 'Main', '2', false]], untracked: [['Main', '2']], short: '0' }]);

    // All 5 of C's commitment goes with it; Main keeps the 2 its stock kept outside lots needs.
    expect(await moveLot(c, cold)).toEqual([]);
    const stock = await stockByLocation(t.api, figs);
    expect({ main: stock.Main!.committed, cold: stock.Cold!.committed }).toEqual({ main: '2', cold: '5' });
    expect((await ship({ producerOrderId: order, trackingReference: 'C' })).shipProducerOrder.userErrors).toEqual([]);
    await expectStockConsistent(t.db);
  });
});
