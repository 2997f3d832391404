// What a producer may say it shipped from which lot, and what a picker may swap: a unique item
// goes whole to one order, a lot serves only its own product, and nobody takes what another
// order has pinned. Each refusal is a typed userError that changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStockConsistent } from '../support/invariants.js';
import { createHub } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { lockedElsewhere } from '../support/locked-elsewhere.js';
import { waitForLockWait } from '../support/wait.js';
import {
  addLocation, adjustAt, buy, closeSessions, createOfferSession, DELIVERY_DAY, pickLines, producerOrderOf, receiveLot, SHIP, stockByLocation, SWAP, world,
} from './support.js';

type UserErrors = { field: string[]; code: string; message: string }[];

describe('lot rules when shipping and swapping', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  const ship = async (producerOrderId: string, lines?: unknown[]) =>
    (await t.api.data<{ shipProducerOrder: { producerOrder: { fulfilmentState: string } | null; userErrors: UserErrors } }>(SHIP, {
      input: { producerOrderId, carrier: 'Van', trackingReference: 'R1', ...(lines ? { lines } : {}) },
    })).shipProducerOrder;
  const swap = async (input: { producerOrderId: string; productId: string; fromLotId: string; toLotId: string }) =>
    (await t.api.data<{ swapLot: { userErrors: UserErrors } }>(SWAP, { input })).swapLot.userErrors;
  /** One customer at the world's hub buys `quantity` of the product, and the session closes: the producer order to pick. */
  const soldAndClosed = async (w: Awaited<ReturnType<typeof world>>, productId: string, quantity: string, criteria: { minGrade?: string } = {}) => {
    const session = await createOfferSession(t.api, w.hub, [{ productId, ...criteria }]);
    await buy(t.api, session.id, 'ana', session.offerFor(productId), quantity);
    await closeSessions(t);
    return producerOrderOf(t.api, w.farm, session.id);
  };
  const lotQuantities = async (productId: string) =>
    (await t.db.query<{ code: string; quantity: string }>('SELECT code, quantity::text FROM lot WHERE product_id = $1 ORDER BY code', [productId])).rows;

  it('ships a unique item whole to one order only', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const otherHub = await createHub(t.api, 'Hub B');
    const lamb = await w.product('Lamb carcass');
    const ear = await receiveLot(t.api, lamb, { code: 'EAR-9', quantity: '20', kind: 'ITEM' });
    const atA = await createOfferSession(t.api, w.hub, [{ productId: lamb }]);
    const atB = await createOfferSession(t.api, otherHub, [{ productId: lamb }]);
    await buy(t.api, atA.id, 'ana', atA.offerFor(lamb), '10');
    await buy(t.api, atB.id, 'ben', atB.offerFor(lamb), '10');
    await closeSessions(t);
    const orderA = await producerOrderOf(t.api, w.farm, atA.id);

    const half = await ship(orderA, [{ productId: lamb, quantity: '10', lots: [{ lotId: ear, quantity: '10' }] }]);
    expect(half.userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['lines', '0', 'lots', '0', 'quantity'] }]);
    expect(half.userErrors[0]!.message).toContain('unique item');
    expect(await lotQuantities(lamb)).toEqual([{ code: 'EAR-9', quantity: '20.000' }]);
    // Neither 10 kg line is offered half of the item either.
    expect((await pickLines(t.api, w.farm, orderA))[0]!.lots).toEqual([]);
    await expectStockConsistent(t.db);
  });

  it('swaps onto a unique item only when the line takes it whole', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cheese = await w.product('Comté wheel');
    const batch = await receiveLot(t.api, cheese, { code: 'C-BATCH', quantity: '10' });
    const wheel = await receiveLot(t.api, cheese, { code: 'WHEEL-1', quantity: '5', kind: 'ITEM' });
    const order = await soldAndClosed(w, cheese, '2');
    expect((await pickLines(t.api, w.farm, order))[0]!.lots.map((l) => [l.lot.id, l.quantity])).toEqual([[batch, '2']]);

    const errors = await swap({ producerOrderId: order, productId: cheese, fromLotId: batch, toLotId: wheel });
    expect(errors).toMatchObject([{ code: 'INVALID_INPUT', field: ['toLotId'] }]);
    expect((await pickLines(t.api, w.farm, order))[0]!.lots.map((l) => [l.lot.id, l.quantity, l.pinned])).toEqual([[batch, '2', false]]);
  });

  it('refuses a swap of a lot for itself', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const kale = await w.product('Kale');
    const lot = await receiveLot(t.api, kale, { code: 'LK-1', quantity: '10' });
    const order = await soldAndClosed(w, kale, '4');

    expect(await swap({ producerOrderId: order, productId: kale, fromLotId: lot, toLotId: lot })).toMatchObject([{ code: 'INVALID_INPUT', field: ['toLotId'] }]);
    // An id is the same id however a client spells it.
    expect(await swap({ producerOrderId: order.toUpperCase(), productId: kale, fromLotId: lot, toLotId: lot.toUpperCase() }))
      .toMatchObject([{ code: 'INVALID_INPUT', field: ['toLotId'] }]);
    expect((await pickLines(t.api, w.farm, order))[0]!.lots.map((l) => [l.quantity, l.pinned])).toEqual([['4', false]]);
  });

  it("refuses a swap onto another product's or another producer's lot, without locking that lot", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const kale = await w.product('Kale');
    const chard = await w.product('Chard');
    const planned = await receiveLot(t.api, kale, { code: 'KL-1', quantity: '10' });
    const ownChard = await receiveLot(t.api, chard, { code: 'CH-1', quantity: '10' });
    const neighbour = await world(t);
    const theirs = await receiveLot(t.api, await neighbour.product('Kale'), { code: 'NK-1', quantity: '10' });
    const order = await soldAndClosed(w, kale, '4');
    const producer = await t.as({ role: 'producer', producerId: w.farm });

    // The neighbour's lot is held by one of its own shipments: the swap answers without waiting for it.
    const neighbourShipping = await t.db.connect();
    try {
      await neighbourShipping.query('BEGIN');
      await neighbourShipping.query('SELECT 1 FROM lot WHERE id = $1 FOR UPDATE', [theirs]);
      for (const toLotId of [theirs, ownChard]) {
        const { swapLot } = await producer.data<{ swapLot: { userErrors: UserErrors } }>(SWAP, { input: { producerOrderId: order, productId: kale, fromLotId: planned, toLotId } });
        expect(swapLot.userErrors).toMatchObject([{ code: 'NOT_FOUND', field: ['toLotId'] }]);
      }
    } finally {
      await neighbourShipping.query('ROLLBACK');
      neighbourShipping.release();
    }
    expect((await pickLines(t.api, w.farm, order))[0]!.lots.map((l) => [l.lot.id, l.pinned])).toEqual([[planned, false]]);
  });

  it('does not ship a line from a lot of another product', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const tomme = await w.product('Tomme');
    const butter = await w.product('Butter');
    await receiveLot(t.api, tomme, { code: 'T-1', quantity: '10' });
    const butterLot = await receiveLot(t.api, butter, { code: 'BUT-1', quantity: '10' });
    const session = await createOfferSession(t.api, w.hub, [{ productId: tomme }, { productId: butter }]);
    await buy(t.api, session.id, 'ana', session.offerFor(tomme), '3');
    await buy(t.api, session.id, 'ben', session.offerFor(butter), '1');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);

    const result = await ship(order, [
      { productId: tomme, quantity: '3', lots: [{ lotId: butterLot, quantity: '3' }] },
      { productId: butter, quantity: '1' },
    ]);
    expect(result.userErrors).toMatchObject([{ code: 'NOT_FOUND', field: ['lines', '0', 'lots', '0', 'lotId'] }]);
    expect(await lotQuantities(butter)).toEqual([{ code: 'BUT-1', quantity: '10.000' }]);
  });

  it('adds up every entry naming the same lot, and answers a userError when they take too much', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const beet = await w.product('Beetroot');
    const lot = await receiveLot(t.api, beet, { code: 'BT-1', quantity: '5' });
    const order = await soldAndClosed(w, beet, '5');

    const result = await ship(order, [{ productId: beet, quantity: '5', lots: [{ lotId: lot, quantity: '4' }, { lotId: lot, quantity: '4' }] }]);
    expect(result.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'lots', '0', 'quantity'] }, { code: 'INVALID_INPUT', field: ['lines', '0', 'lots'] }]);
    expect(await lotQuantities(beet)).toEqual([{ code: 'BT-1', quantity: '5.000' }]);
  });

  it('does not ship from a lot what another order has pinned, so that order still ships as planned', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const kale = await w.product('Kale');
    const k1 = await receiveLot(t.api, kale, { code: 'K-1', quantity: '5', bestBefore: '2026-12-01' });
    const k2 = await receiveLot(t.api, kale, { code: 'K-2', quantity: '5', bestBefore: '2026-12-09' });
    const otherHub = await createHub(t.api, 'Hub B');
    const atA = await createOfferSession(t.api, w.hub, [{ productId: kale }]);
    const atB = await createOfferSession(t.api, otherHub, [{ productId: kale }]);
    await buy(t.api, atA.id, 'ana', atA.offerFor(kale), '4');
    await buy(t.api, atB.id, 'ben', atB.offerFor(kale), '4');
    await closeSessions(t);
    const orderA = await producerOrderOf(t.api, w.farm, atA.id);
    const orderB = await producerOrderOf(t.api, w.farm, atB.id);
    const planned = (await pickLines(t.api, w.farm, orderA))[0]!.lots[0]!.lot.id;
    const other = planned === k1 ? k2 : k1;
    expect(await swap({ producerOrderId: orderA, productId: kale, fromLotId: planned, toLotId: other })).toEqual([]);

    const taken = await ship(orderB, [{ productId: kale, quantity: '4', lots: [{ lotId: other, quantity: '4' }] }]);
    expect(taken.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'lots', '0', 'quantity'] }]);
    expect(taken.userErrors[0]!.message).toContain('1 free');

    expect((await ship(orderB)).userErrors).toEqual([]);
    const shippedA = await ship(orderA);
    expect(shippedA.userErrors).toEqual([]);
    expect(shippedA.producerOrder?.fulfilmentState).toBe('FULFILLED');
    const left = Object.fromEntries((await lotQuantities(kale)).map((l) => [l.code, l.quantity]));
    expect(left[other === k1 ? 'K-1' : 'K-2']).toBe('1.000');
    await expectStockConsistent(t.db);
  });

  it('ships without naming a lot only stock kept outside lots, so a lot that fails the criteria keeps what it has', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const pears = await w.product('Pears');
    await receiveLot(t.api, pears, { code: 'P-LOW', quantity: '10', grade: 'CLASS_II' });
    const order = await soldAndClosed(w, pears, '5', { minGrade: 'EXTRA' });

    // The only pears are in a lot the line cannot take: nothing outside lots to ship them from,
    // which the pick line says before anyone tries.
    expect((await pickLines(t.api, w.farm, order))[0]).toMatchObject({ lots: [], untracked: [], short: '5' });
    const { pickList } = await t.api.data<{ pickList: { items: unknown[]; waves: { items: unknown[] }[] } }>(
      'query ($p: ID!, $d: String!) { pickList(producerId: $p, deliveryDay: $d) { items { quantity short } waves { items { quantity short } } } }',
      { p: w.farm, d: DELIVERY_DAY },
    );
    expect(pickList.items).toEqual([{ quantity: '0', short: '5' }]);
    expect(pickList.waves.map((wave) => wave.items)).toEqual([[{ quantity: '0', short: '5' }]]);
    const refused = await ship(order);
    expect(refused.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['producerOrderId'] }]);
    expect(await lotQuantities(pears)).toEqual([{ code: 'P-LOW', quantity: '10.000' }]);

    // With 3 kept outside lots, 3 can ship that way; not 4.
    await adjustAt(t.api, pears, w.main, '3');
    expect((await pickLines(t.api, w.farm, order))[0]).toMatchObject({ untracked: [{ location: { name: 'Main' }, quantity: '3' }], short: '2' });
    expect((await ship(order, [{ productId: pears, quantity: '4' }])).userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'quantity'] }]);
    expect((await ship(order, [{ productId: pears, quantity: '3' }])).userErrors).toEqual([]);
    expect(await lotQuantities(pears)).toEqual([{ code: 'P-LOW', quantity: '10.000' }]);
    expect((await stockByLocation(t.api, pears)).Main).toMatchObject({ onHand: '10', committed: '0' });
    await expectStockConsistent(t.db);
  });

  it('moves stock kept in a lot only with its lot', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const plums = await w.product('Plums');
    await receiveLot(t.api, plums, { code: 'PL-1', quantity: '10' });
    await adjustAt(t.api, plums, w.main, '2');
    const transfer = async (quantity: string) =>
      (await t.api.data<{ transferStock: { userErrors: UserErrors } }>(
        'mutation ($input: TransferStockInput!) { transferStock(input: $input) { userErrors { code field message } } }',
        { input: { productId: plums, fromLocationId: w.main, toLocationId: cold, quantity } },
      )).transferStock.userErrors;

    const refused = await transfer('3');
    expect(refused).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['quantity'] }]);
    expect(refused[0]!.message).toContain('moveLot');
    expect(await transfer('2')).toEqual([]);
    expect(await stockByLocation(t.api, plums)).toMatchObject({ Main: { onHand: '10' }, 'Cold store': { onHand: '2' } });
  });

  it('ships a line without naming lots from the suggested ones, a unique item only whole', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cheese = await w.product('Reblochon');
    await receiveLot(t.api, cheese, { code: 'W-1', quantity: '3', kind: 'ITEM', bestBefore: '2026-12-01' });
    await receiveLot(t.api, cheese, { code: 'B-1', quantity: '5', bestBefore: '2026-12-09' });
    const order = await soldAndClosed(w, cheese, '5');
    expect((await pickLines(t.api, w.farm, order))[0]!.lots.map((l) => [l.lot.code, l.quantity])).toEqual([['W-1', '3'], ['B-1', '2']]);

    // 2 ship: the item does not fit whole, so they come from the batch.
    expect((await ship(order, [{ productId: cheese, quantity: '2' }])).userErrors).toEqual([]);
    expect(await lotQuantities(cheese)).toEqual([{ code: 'B-1', quantity: '3.000' }, { code: 'W-1', quantity: '3.000' }]);
    await expectStockConsistent(t.db);
  });

  it('counts a pin committed while the shipment waited for the lots', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const kale = await w.product('Kale');
    const lot = await receiveLot(t.api, kale, { code: 'KL-1', quantity: '6' });
    const otherHub = await createHub(t.api, 'Hub B');
    const atA = await createOfferSession(t.api, w.hub, [{ productId: kale }]);
    const atB = await createOfferSession(t.api, otherHub, [{ productId: kale }]);
    await buy(t.api, atA.id, 'ana', atA.offerFor(kale), '5');
    await buy(t.api, atB.id, 'ben', atB.offerFor(kale), '1');
    await closeSessions(t);
    const orderA = await producerOrderOf(t.api, w.farm, atA.id);
    const orderB = await producerOrderOf(t.api, w.farm, atB.id);

    // A picker pins 5 of the lot to order B; while that commits, A's shipment of 5 from it waits.
    const picker = await t.db.connect();
    try {
      await picker.query('BEGIN');
      await picker.query('SELECT id FROM lot WHERE id = $1 FOR UPDATE', [lot]);
      await picker.query('INSERT INTO lot_pick (id, producer_order_id, product_id, lot_id, quantity) VALUES (gen_random_uuid(), $1, $2, $3, 5)', [orderB, kale, lot]);
      const shipping = ship(orderA, [{ productId: kale, quantity: '5', lots: [{ lotId: lot, quantity: '5' }] }]);
      await waitForLockWait(t.db);
      await picker.query('COMMIT');
      expect((await shipping).userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'lots', '0', 'quantity'] }]);
    } finally {
      picker.release();
    }
    expect(await lotQuantities(kale)).toEqual([{ code: 'KL-1', quantity: '6.000' }]);
  });

  it('counts a lot released while a transfer waited as stock in lots', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const plums = await w.product('Plums');
    const lot = await receiveLot(t.api, plums, { code: 'PL-Q', quantity: '10', released: false });
    await adjustAt(t.api, plums, w.main, '5');

    // The lot is being released (its stock joins Main) while a transfer of 12 from Main waits.
    const releasing = await t.db.connect();
    try {
      await releasing.query('BEGIN');
      await releasing.query('SELECT 1 FROM stock_level WHERE product_id = $1 FOR UPDATE', [plums]);
      await releasing.query("UPDATE lot SET status = 'RELEASED', released_at = now() WHERE id = $1", [lot]);
      await releasing.query('UPDATE stock_level SET on_hand = on_hand + 10 WHERE product_id = $1 AND location_id = $2', [plums, w.main]);
      await releasing.query(
        "INSERT INTO stock_movement (product_id, location_id, lot_id, kind, on_hand_delta, reason, created_at) VALUES ($1, $2, $3, 'RECEIVE', 10, 'lot PL-Q released', now())",
        [plums, w.main, lot],
      );
      const transfer = t.api.data<{ transferStock: { userErrors: UserErrors } }>(
        'mutation ($input: TransferStockInput!) { transferStock(input: $input) { userErrors { code field message } } }',
        { input: { productId: plums, fromLocationId: w.main, toLocationId: cold, quantity: '12' } },
      );
      await waitForLockWait(t.db);
      await releasing.query('COMMIT');
      expect((await transfer).transferStock.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['quantity'] }]);
    } finally {
      releasing.release();
    }
    expect(await stockByLocation(t.api, plums)).toMatchObject({ Main: { onHand: '15' }, 'Cold store': { onHand: '0' } });
    await expectStockConsistent(t.db);
  });

  it('takes stock in a lot away only with its lot, so the lot always has what it says', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const figs = await w.product('Figs');
    const lot = await receiveLot(t.api, figs, { code: 'FG-1', quantity: '10', locationId: cold });
    const quarantined = await receiveLot(t.api, figs, { code: 'FG-Q', quantity: '4', released: false });
    const adjust = async (fields: Record<string, string>) =>
      (await t.api.data<{ adjustStock: { userErrors: UserErrors } }>(
        'mutation ($input: AdjustStockInput!) { adjustStock(input: $input) { userErrors { code field message } } }',
        { input: { productId: figs, ...fields } },
      )).adjustStock.userErrors;

    expect(await adjust({ delta: '-2', locationId: cold })).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['delta'] }]);
    expect(await adjust({ delta: '-2', lotId: lot, reason: 'two went soft' })).toEqual([]);
    expect(await adjust({ delta: '-9', lotId: lot })).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['delta'] }]);
    expect(await adjust({ delta: '-1', lotId: quarantined })).toMatchObject([{ code: 'INVALID_INPUT', field: ['lotId'] }]);
    expect(await adjust({ delta: '-1', lotId: lot, locationId: w.main })).toMatchObject([{ code: 'INVALID_INPUT', field: ['locationId'] }]);

    expect(await lotQuantities(figs)).toEqual([{ code: 'FG-1', quantity: '8.000' }, { code: 'FG-Q', quantity: '4.000' }]);
    expect(await stockByLocation(t.api, figs)).toMatchObject({ 'Cold store': { onHand: '8' }, Main: { onHand: '0' } });
    const { rows } = await t.db.query("SELECT lot_id FROM stock_movement WHERE product_id = $1 AND kind = 'ADJUST'", [figs]);
    expect(rows).toEqual([{ lot_id: lot }]);
    await expectStockConsistent(t.db);
  });

  it('writes off stock in a lot where the lot is when it gets the lock, after a move it waited for', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const figs = await w.product('Figs');
    const lot = await receiveLot(t.api, figs, { code: 'FG-M', quantity: '10' });
    await adjustAt(t.api, figs, w.main, '5');

    // The lot is being moved to the cold store, with its 10, while a write-off of 2 from it waits.
    const moving = await t.db.connect();
    try {
      await moving.query('BEGIN');
      await moving.query('SELECT 1 FROM lot WHERE id = $1 FOR UPDATE', [lot]);
      await moving.query('UPDATE lot SET location_id = $1 WHERE id = $2', [cold, lot]);
      await moving.query('UPDATE stock_level SET on_hand = on_hand + (CASE WHEN location_id = $2 THEN 10 ELSE -10 END) WHERE product_id = $1', [figs, cold]);
      await moving.query(
        "INSERT INTO stock_movement (product_id, location_id, lot_id, kind, on_hand_delta, created_at) VALUES ($1, $2, $4, 'TRANSFER', -10, now()), ($1, $3, $4, 'TRANSFER', 10, now())",
        [figs, w.main, cold, lot],
      );
      const writeOff = t.api.data<{ adjustStock: { userErrors: UserErrors } }>(
        'mutation ($input: AdjustStockInput!) { adjustStock(input: $input) { userErrors { code field message } } }',
        { input: { productId: figs, lotId: lot, delta: '-2' } },
      );
      await waitForLockWait(t.db);
      await moving.query('COMMIT');
      expect((await writeOff).adjustStock.userErrors).toEqual([]);
    } finally {
      moving.release();
    }
    expect(await lotQuantities(figs)).toEqual([{ code: 'FG-M', quantity: '8.000' }]);
    expect(await stockByLocation(t.api, figs)).toMatchObject({ Main: { onHand: '5' }, 'Cold store': { onHand: '8' } });
    await expectStockConsistent(t.db);
  });

  it('unpins a unique item counted up after a picker pinned it: it ships whole to a line that takes it whole, or stays whole', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cheese = await w.product('Tomme wheel');
    const batch = await receiveLot(t.api, cheese, { code: 'B-1', quantity: '5', bestBefore: '2026-12-01' });
    const wheel = await receiveLot(t.api, cheese, { code: 'WHEEL-1', quantity: '4', kind: 'ITEM', bestBefore: '2026-12-20' });
    const order = await soldAndClosed(w, cheese, '4');
    expect(await swap({ producerOrderId: order, productId: cheese, fromLotId: batch, toLotId: wheel })).toEqual([]);

    // Weighed again, the wheel is 5 kg: the 4 kg line can no longer take it whole.
    const adjusted = await t.api.data<{ adjustStock: { userErrors: UserErrors } }>(
      'mutation ($input: AdjustStockInput!) { adjustStock(input: $input) { userErrors { field message code } } }',
      { input: { productId: cheese, lotId: wheel, delta: '1', reason: 'weighed again' } },
    );
    expect(adjusted.adjustStock.userErrors).toEqual([]);
    const [line] = await pickLines(t.api, w.farm, order);
    expect(line!.lots.map((l) => [l.lot.id, l.quantity, l.pinned])).toEqual([[batch, '4', false]]);

    expect((await ship(order)).userErrors).toEqual([]);
    const { rows } = await t.db.query<{ id: string; quantity: string }>('SELECT id, quantity::text FROM lot WHERE id = ANY($1) ORDER BY code', [[batch, wheel]]);
    expect(rows).toEqual([{ id: batch, quantity: '1.000' }, { id: wheel, quantity: '5.000' }]);
    await expectStockConsistent(t.db);
  });

  it("does not ship, naming no lot, the stock kept outside lots that another order's criteria leave it to ship", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const pears = await w.product('Pears');
    // 5 kept outside lots (ungraded: suits anyone) and a CLASS_II lot of 5.
    await adjustAt(t.api, pears, w.main, '5');
    const low = await receiveLot(t.api, pears, { code: 'P-LOW', quantity: '5', grade: 'CLASS_II', bestBefore: '2026-12-20' });
    // A (no criteria) delivers first, B (EXTRA only) a day later.
    const a = await createOfferSession(t.api, w.hub, [{ productId: pears }], { deliversAt: '2026-11-25T08:00:00+01:00' });
    const b = await createOfferSession(t.api, w.hub, [{ productId: pears, minGrade: 'EXTRA' }], { deliversAt: '2026-11-26T08:00:00+01:00' });
    await buy(t.api, a.id, 'ana', a.offerFor(pears), '5');
    await buy(t.api, b.id, 'ben', b.offerFor(pears), '5');
    await closeSessions(t);
    const orderA = await producerOrderOf(t.api, w.farm, a.id);
    const orderB = await producerOrderOf(t.api, w.farm, b.id);
    const planB = { lots: [], untracked: [{ quantity: '5' }], short: '0' };
    expect((await pickLines(t.api, w.farm, orderA))[0]).toMatchObject({ lots: [{ lot: { code: 'P-LOW' }, quantity: '5' }], short: '0' });
    expect((await pickLines(t.api, w.farm, orderB))[0]).toMatchObject(planB);

    // A names no lot: the 5 kept outside lots are B's, and A is refused, changing nothing.
    const refused = await ship(orderA, [{ productId: pears, quantity: '5', lots: [] }]);
    expect(refused.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'quantity'] }]);
    expect(refused.userErrors[0]!.message).toContain(`producer order ${orderB} would be 5 short after this shipment`);
    expect((await pickLines(t.api, w.farm, orderB))[0]).toMatchObject(planB);
    expect(await lotQuantities(pears)).toEqual([{ code: 'P-LOW', quantity: '5.000' }]);

    // A ships its lot, B the stock kept outside lots: both whole.
    expect((await ship(orderA, [{ productId: pears, quantity: '5', lots: [{ lotId: low, quantity: '5' }] }])).userErrors).toEqual([]);
    expect((await ship(orderB, [{ productId: pears, quantity: '5', lots: [] }])).userErrors).toEqual([]);
    expect(await stockByLocation(t.api, pears)).toMatchObject({ Main: { onHand: '0' } });
    await expectStockConsistent(t.db);
  });

  it('ships, naming no lot, stock kept outside lots planned for another order that can take the lot this one leaves', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const quinces = await w.product('Quinces');
    // 5 kept outside lots and a lot of 5: both suit either order (no criteria).
    await adjustAt(t.api, quinces, w.main, '5');
    await receiveLot(t.api, quinces, { code: 'Q-1', quantity: '5', bestBefore: '2026-12-20' });
    const a = await createOfferSession(t.api, w.hub, [{ productId: quinces }], { deliversAt: '2026-11-25T08:00:00+01:00' });
    const b = await createOfferSession(t.api, w.hub, [{ productId: quinces }], { deliversAt: '2026-11-26T08:00:00+01:00' });
    await buy(t.api, a.id, 'ana', a.offerFor(quinces), '5');
    await buy(t.api, b.id, 'ben', b.offerFor(quinces), '5');
    await closeSessions(t);
    const orderA = await producerOrderOf(t.api, w.farm, a.id);
    const orderB = await producerOrderOf(t.api, w.farm, b.id);
    expect((await pickLines(t.api, w.farm, orderA))[0]).toMatchObject({ lots: [{ lot: { code: 'Q-1' } }] });
    expect((await pickLines(t.api, w.farm, orderB))[0]).toMatchObject({ lots: [], untracked: [{ quantity: '5' }] });

    // The picker took the loose quinces for A: the lot stays on the shelf, and B is given it.
    expect((await ship(orderA, [{ productId: quinces, quantity: '5', lots: [] }])).userErrors).toEqual([]);
    expect((await pickLines(t.api, w.farm, orderB))[0]).toMatchObject({ lots: [{ lot: { code: 'Q-1' }, quantity: '5' }], short: '0' });
    expect((await ship(orderB)).userErrors).toEqual([]);
    expect(await lotQuantities(quinces)).toEqual([{ code: 'Q-1', quantity: '0.000' }]);
    expect(await stockByLocation(t.api, quinces)).toMatchObject({ Main: { onHand: '0' } });
    await expectStockConsistent(t.db);
  });

  it("refuses a swap onto the lot another order's criteria leave it, which would leave that order short", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const plums = await w.product('Plums');
    const extra = await receiveLot(t.api, plums, { code: 'PL-EXTRA', quantity: '5', grade: 'EXTRA', bestBefore: '2026-12-20' });
    const low = await receiveLot(t.api, plums, { code: 'PL-LOW', quantity: '5', grade: 'CLASS_II', bestBefore: '2026-12-10' });
    const spare = await receiveLot(t.api, plums, { code: 'PL-SPARE', quantity: '5', grade: 'CLASS_I', bestBefore: '2026-12-15' });
    // A (no criteria) delivers first and is given the earliest best-before; B takes EXTRA only.
    const a = await createOfferSession(t.api, w.hub, [{ productId: plums }], { deliversAt: '2026-11-25T08:00:00+01:00' });
    const b = await createOfferSession(t.api, w.hub, [{ productId: plums, minGrade: 'EXTRA' }], { deliversAt: '2026-11-26T08:00:00+01:00' });
    await buy(t.api, a.id, 'ana', a.offerFor(plums), '5');
    await buy(t.api, b.id, 'ben', b.offerFor(plums), '5');
    await closeSessions(t);
    const orderA = await producerOrderOf(t.api, w.farm, a.id);
    const orderB = await producerOrderOf(t.api, w.farm, b.id);
    const planB = { lots: [{ lot: { code: 'PL-EXTRA' }, quantity: '5' }], short: '0' };
    expect((await pickLines(t.api, w.farm, orderA))[0]).toMatchObject({ lots: [{ lot: { code: 'PL-LOW' }, quantity: '5' }], short: '0' });
    expect((await pickLines(t.api, w.farm, orderB))[0]).toMatchObject(planB);

    // A's picker reaches for the EXTRA lot: B could ship nothing else. Refused, nothing pinned.
    const refused = await swap({ producerOrderId: orderA, productId: plums, fromLotId: low, toLotId: extra });
    expect(refused).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['toLotId'] }]);
    expect(refused[0]!.message).toContain(`producer order ${orderB} needs lot PL-EXTRA, and would be 5 short without it`);
    expect((await pickLines(t.api, w.farm, orderB))[0]).toMatchObject(planB);
    expect((await t.db.query('SELECT 1 FROM lot_pick WHERE producer_order_id = $1', [orderA])).rows).toEqual([]);
    // A lot no one else needs may be swapped to.
    expect(await swap({ producerOrderId: orderA, productId: plums, fromLotId: low, toLotId: spare })).toEqual([]);
    expect((await pickLines(t.api, w.farm, orderB))[0]).toMatchObject(planB);
  });

  it('ships while a session completes an order of another product that is short from the start: not this shipment\'s doing', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const apples = await w.product('Apples');
    const quinces = await w.product('Quinces');
    await adjustAt(t.api, apples, w.main, '5');
    await receiveLot(t.api, quinces, { code: 'Q-LOW', quantity: '5', grade: 'CLASS_II', bestBefore: '2026-12-20' });
    const a = await createOfferSession(t.api, w.hub, [{ productId: apples }]);
    const c = await createOfferSession(t.api, w.hub, [{ productId: quinces, minGrade: 'EXTRA' }], { closesAt: '2026-11-23T21:00:00+01:00' });
    await buy(t.api, a.id, 'ana', a.offerFor(apples), '5');
    await buy(t.api, c.id, 'cid', c.offerFor(quinces), '5');
    await closeSessions(t);
    const orderA = await producerOrderOf(t.api, w.farm, a.id);

    // The shipment of the apples is held after it read the plan (its customer lines locked elsewhere).
    const lines = await lockedElsewhere(t.db, 'SELECT 1 FROM customer_order_line WHERE producer_order_id = $1 FOR UPDATE', [orderA]);
    const shipping = ship(orderA);
    await waitForLockWait(t.db, 'the shipment to wait for its customer lines');
    // Meanwhile session c closes and completes: its order of quinces (EXTRA asked, only CLASS_II kept) is short.
    t.clock.set('2026-11-23T21:00:01+01:00');
    await t.app.scheduler.runOnce();
    const orderC = await producerOrderOf(t.api, w.farm, c.id);
    expect((await pickLines(t.api, w.farm, orderC))[0]).toMatchObject({ short: '5' });
    await lines.release();

    // The apples shipment takes nothing the quinces order could use.
    expect((await shipping).userErrors).toEqual([]);
  });
});
