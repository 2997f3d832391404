import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatesConsistent, expectStockConsistent } from '../support/invariants.js';
import { createHub } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import {
  addLocation, adjustAt, buy, closeSessions, createOfferSession, pickLines, producerOrderOf, receiveLot, SHIP, stockByLocation, world,
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

  it('still refuses a lot whose location has no stock free for it, when no commitment there can move', async () => {
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

    const refused = await ship({ producerOrderId: order, trackingReference: 'P', lines: [{ productId: pears, quantity: '4', lots: [{ lotId: lot, quantity: '4' }] }] });
    expect(refused.shipProducerOrder.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'lots'] }]);
    expect(await stockByLocation(t.api, pears)).toEqual(before);
    // The pick list suggests that lot (the plan does not weigh what each location has free): shipped
    // as planned, the answer names the order, not lines it was not sent, and says what to do.
    expect((await pickLines(t.api, w.farm, order))[0]!.lots.map((l) => l.lot.id)).toEqual([lot]);
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
});
