import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { placeCustomerOrder } from '../../src/modules/orders/checkout-batch.js';
import { heldLedgerRows, refusedAtCommit } from '../../src/modules/stock/stock.service.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basketsFor } from '../support/baskets.js';
import { expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { checkout, orderMutation, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import {
  addLocation, adjustAt, buy, closeSessions, createOfferSession, pickLines, producerOrderOf, receiveLot, SHIP, stockByLocation, world,
} from './support.js';

describe('stock locations', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it('holds from the first-choice location that has enough alone, and splits in priority order when none has', async () => {
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const depot = await addLocation(t.api, w.farm, 'Depot', 3);
    const apples = await w.product('Apples');
    await adjustAt(t.api, apples, w.main, '3');
    await adjustAt(t.api, apples, cold, '10');
    await adjustAt(t.api, apples, depot, '4');
    const session = await createOfferSession(t.api, w.hub, [{ productId: apples }]);

    // 5 fits nowhere at priority 1 (3), but fits whole at priority 2 (10): no split.
    expect((await checkout(t.api, session.id, 'a', [{ offerId: session.offerFor(apples), quantity: '5' }])).userErrors).toEqual([]);
    expect(await stockByLocation(t.api, apples)).toMatchObject({ Main: { held: '0' }, 'Cold store': { held: '5' }, Depot: { held: '0' } });

    // 11: no location has it alone (3, 5, 4 left): split 3 + 5 + 3 in priority order.
    expect((await checkout(t.api, session.id, 'b', [{ offerId: session.offerFor(apples), quantity: '11' }])).userErrors).toEqual([]);
    expect(await stockByLocation(t.api, apples)).toEqual({
      Main: { onHand: '3', held: '3', committed: '0', available: '0' },
      'Cold store': { onHand: '10', held: '10', committed: '0', available: '0' },
      Depot: { onHand: '4', held: '3', committed: '0', available: '1' },
    });
    // Product.stock is the sum over the locations.
    expect(await stockOf(t.api, apples)).toEqual({ onHand: '17', held: '16', committed: '0', available: '1' });
    const refused = await checkout(t.api, session.id, 'c', [{ offerId: session.offerFor(apples), quantity: '2' }]);
    expect(refused.userErrors.map((e) => e.code)).toEqual(['INSUFFICIENT_STOCK']);
    // One event per hold, however many locations it came from, with the availability after it.
    const { rows: events } = await t.db.query(
      "SELECT trim_scale(quantity)::text AS quantity, trim_scale(available)::text AS available FROM domain_event WHERE kind = 'HELD' AND product_id = $1 ORDER BY id",
      [apples],
    );
    expect(events).toEqual([{ quantity: '5', available: '12' }, { quantity: '11', available: '1' }]);
    await expectStockConsistent(t.db);
  });

  it('completes the event that a replica still on the previous version writes with its checkout, and writes no second one', async () => {
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const pears = await w.product('Pears');
    await adjustAt(t.api, pears, w.main, '2');
    await adjustAt(t.api, pears, cold, '10');
    const session = await createOfferSession(t.api, w.hub, [{ productId: pears }]);
    const order = (await checkout(t.api, session.id, 'a', [{ offerId: session.offerFor(pears), quantity: '1' }])).customerOrder!;
    const { rows: [producerOrder] } = await t.db.query('SELECT id, hub_id FROM producer_order WHERE sales_session_id = $1', [session.id]);
    const { stock } = t.app.services;
    const moves = stock.planHold(order.id, [{ productId: pears, quantity: new Decimal(4), producerOrderId: producerOrder.id, field: [] }],
      new Map([[pears, [{ locationId: w.main, priority: 1, available: new Decimal(1) }, { locationId: cold, priority: 2, available: new Decimal(10) }]]]))!;
    await t.app.orm.em.fork().transactional(async (em) => {
      // What the previous version's checkout wrote: its hold's ledger rows, to be applied at COMMIT,
      // and beside them the event, its availability left to the trigger.
      await em.execute(
        `INSERT INTO stock_movement (product_id, location_id, kind, held_delta, customer_order_id, producer_order_id, created_at, applied_at_commit)
         SELECT m.product_id, m.location_id, 'HOLD', m.held_delta, ?, ?, now(), true
           FROM jsonb_to_recordset(?::jsonb) AS m(product_id uuid, location_id uuid, held_delta numeric) ORDER BY m.product_id, m.location_id`,
        [order.id, producerOrder.id, JSON.stringify(heldLedgerRows(moves))],
      );
      await em.execute(
        `INSERT INTO domain_event (kind, producer_id, product_id, producer_order_id, hub_id, customer_order_id, quantity, available, created_at)
         VALUES ('HELD', ?, ?, ?, ?, ?, 4, 0, now())`,
        [w.farm, pears, producerOrder.id, producerOrder.hub_id, order.id],
      );
    });
    const { rows: events } = await t.db.query(
      "SELECT trim_scale(quantity)::text AS quantity, trim_scale(available)::text AS available FROM domain_event WHERE kind = 'HELD' AND product_id = $1 ORDER BY id",
      [pears],
    );
    expect(events).toEqual([{ quantity: '1', available: '11' }, { quantity: '4', available: '7' }]);
    // The order's lines ask for 1, its ledger holds 5: cancelled, it gives back all it holds.
    await orderMutation(t.api, op.CANCEL_CUSTOMER_ORDER, order.id);
    await expectStockConsistent(t.db);
  });

  it('applies a hold shared out from levels read without locks at COMMIT, and refuses the commit if they changed', async () => {
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const quinces = await w.product('Quinces');
    await adjustAt(t.api, quinces, w.main, '3');
    await adjustAt(t.api, quinces, cold, '10');
    const session = await createOfferSession(t.api, w.hub, [{ productId: quinces }]);
    const order = (await checkout(t.api, session.id, 'a', [{ offerId: session.offerFor(quinces), quantity: '1' }])).customerOrder!;
    const { rows: [producerOrder] } = await t.db.query('SELECT id FROM producer_order WHERE sales_session_id = $1', [session.id]);
    const request = { productId: quinces, quantity: new Decimal(5), producerOrderId: producerOrder.id, field: [] };
    const basket = await basketsFor(t.db, session.id, session.offerFor(quinces));
    const level = (locationId: string, available: string, priority: number) => ({ locationId, priority, available: new Decimal(available) });
    const held = async (em: EntityManager) => {
      const rows: { location_id: string; held: string }[] = await em.execute('SELECT location_id, held::text FROM stock_level WHERE product_id = ?', [quinces]);
      return Object.fromEntries(rows.map((r) => [r.location_id === cold ? 'cold' : 'main', new Decimal(r.held).toString()]));
    };
    const before = await stockByLocation(t.api, quinces);

    // What a checkout does with levels read without locks: plan the hold, write it with its order,
    // to be applied at COMMIT (here alone, in a transaction of its own).
    const { stock } = t.app.services;
    const holdAsRead = async (em: EntityManager, main: string, coldStore: string) => {
      const placing = { ...basket(`as read ${main} ${coldStore}`, 5), at: t.clock.now().toISOString() };
      const moves = stock.planHold(placing.id, [request], new Map([[quinces, [level(w.main, main, 1), level(cold, coldStore, 2)]]]));
      if (!moves) return undefined;
      expect((await placeCustomerOrder(em, { ...placing, holds: heldLedgerRows(moves) })).order?.id).toBe(placing.id);
      return moves;
    };

    // Read right (2 left at Main, not enough alone; 10 in the cold store): nothing changes, and
    // nothing is locked, until COMMIT. (Rolled back here, to look inside.)
    await expect(t.app.orm.em.fork().transactional(async (em) => {
      expect(await holdAsRead(em, '2', '10')).toBeDefined();
      expect(await held(em)).toEqual({ main: '1', cold: '0' });
      throw new Error('roll back');
    })).rejects.toThrow('roll back');

    // Read wrong (Main seemed to have 8, enough alone): the COMMIT is refused and nothing is kept.
    const refused = await t.app.orm.em.fork().transactional(async (em) => {
      await holdAsRead(em, '8', '10');
    }).then(() => undefined, (error: unknown) => error);
    expect(refusedAtCommit(refused)).toBe(true);
    expect(await stockByLocation(t.api, quinces)).toEqual(before);

    // Seemed short everywhere: no plan; read under lock instead, and taken whole from the cold store.
    await expect(t.app.orm.em.fork().transactional(async (em) => {
      expect(await holdAsRead(em, '0', '0')).toBeUndefined();
      expect(await stock.hold(em, t.clock.now(), order.id, [request])).toEqual([]);
      expect(await held(em)).toEqual({ main: '1', cold: '5' });
      throw new Error('roll back');
    })).rejects.toThrow('roll back');

    // Through the API: 5 more are held at COMMIT, from the cold store.
    expect((await checkout(t.api, session.id, 'b', [{ offerId: session.offerFor(quinces), quantity: '5' }])).userErrors).toEqual([]);
    expect(await stockByLocation(t.api, quinces)).toMatchObject({ Main: { held: '1' }, 'Cold store': { held: '5' } });
    await expectStockConsistent(t.db);
  });

  it('releases a cancelled hold at the locations it came from', async () => {
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const pears = await w.product('Pears');
    await adjustAt(t.api, pears, w.main, '2');
    await adjustAt(t.api, pears, cold, '2');
    const session = await createOfferSession(t.api, w.hub, [{ productId: pears }]);
    const order = await checkout(t.api, session.id, 'a', [{ offerId: session.offerFor(pears), quantity: '3' }]);
    expect(await stockByLocation(t.api, pears)).toMatchObject({ Main: { held: '2' }, 'Cold store': { held: '1' } });
    await t.api.data('mutation ($input: CustomerOrderRefInput!) { failPayment(input: $input) { userErrors { code } } }', { input: { customerOrderId: order.customerOrder!.id } });
    expect(await stockByLocation(t.api, pears)).toMatchObject({ Main: { held: '0', available: '2' }, 'Cold store': { held: '0', available: '2' } });
    await expectStockConsistent(t.db);
  });

  it('never oversells any location when many checkouts race over a split product', async () => {
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const plums = await w.product('Plums', 'each');
    await adjustAt(t.api, plums, w.main, '7');
    await adjustAt(t.api, plums, cold, '6');
    const session = await createOfferSession(t.api, w.hub, [{ productId: plums }]);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => checkout(t.api, session.id, `c${i}`, [{ offerId: session.offerFor(plums), quantity: i % 2 ? '1' : '2' }], randomUUID())),
    );
    const held = results.filter((r) => r.userErrors.length === 0).reduce((sum, r) => sum + Number(r.customerOrder!.lines[0]!.quantity), 0);
    expect(results.every((r) => r.userErrors.length === 0 || r.userErrors[0]!.code === 'INSUFFICIENT_STOCK')).toBe(true);
    const levels = await stockByLocation(t.api, plums);
    expect(Number(levels.Main!.held) + Number(levels['Cold store']!.held)).toBe(held);
    expect(held).toBeGreaterThanOrEqual(12); // at most one unit can be left over (a 2 that no longer fits)
    for (const level of Object.values(levels)) expect(Number(level.available)).toBeGreaterThanOrEqual(0);
    await expectStockConsistent(t.db);
  });

  it('gives every product a level at every location, also when a product and a location are created at once', async () => {
    const w = await world(t);
    const pairs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => Promise.all([w.product(`Squash ${i}`), addLocation(t.api, w.farm, `Depot ${i}`, 2 + i)])),
    );
    const { rows } = await t.db.query(
      `SELECT count(*)::int AS n FROM product p JOIN location l ON l.producer_id = p.producer_id
        WHERE p.producer_id = $1 AND NOT EXISTS (SELECT 1 FROM stock_level s WHERE s.product_id = p.id AND s.location_id = l.id)`,
      [w.farm],
    );
    expect(rows[0].n).toBe(0);
    // Stock comes in at a location created together with the product.
    const [squash, depot] = pairs[7]!;
    await adjustAt(t.api, squash, depot, '10');
    expect((await stockByLocation(t.api, squash))['Depot 7']).toMatchObject({ onHand: '10', available: '10' });
  });

  it('moves stock between locations through the ledger, and only what is available', async () => {
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const leeks = await w.product('Leeks');
    await adjustAt(t.api, leeks, w.main, '5');
    const transfer = (quantity: string) => t.api.data<{ transferStock: { userErrors: { code: string; field: string[] }[] } }>(
      'mutation ($input: TransferStockInput!) { transferStock(input: $input) { userErrors { code field } } }',
      { input: { productId: leeks, fromLocationId: w.main, toLocationId: cold, quantity } },
    );
    expect((await transfer('2')).transferStock.userErrors).toEqual([]);
    expect(await stockByLocation(t.api, leeks)).toMatchObject({ Main: { onHand: '3' }, 'Cold store': { onHand: '2' } });
    expect((await transfer('4')).transferStock.userErrors).toEqual([{ code: 'INSUFFICIENT_STOCK', field: ['quantity'] }]);
    const { rows } = await t.db.query("SELECT on_hand_delta::text FROM stock_movement WHERE product_id = $1 AND kind = 'TRANSFER' ORDER BY id", [leeks]);
    expect(rows.map((r) => r.on_hand_delta)).toEqual(['-2.000', '2.000']);
    await expectStockConsistent(t.db);
  });

  it('moves or writes off no stock kept outside lots that an order waiting to be picked ships, when its lots there do not suit it', async () => {
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const lamb = await w.product('Lamb');
    // At Main: a 5 kg carcass (a unique item) and 5 kg kept outside lots.
    await receiveLot(t.api, lamb, { code: 'EAR-1', quantity: '5', kind: 'ITEM' });
    await adjustAt(t.api, lamb, w.main, '5');
    const session = await createOfferSession(t.api, w.hub, [{ productId: lamb }]);
    await buy(t.api, session.id, 'ana', session.offerFor(lamb), '3');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    // The 3 kg line cannot take the carcass whole: it ships 3 of the 5 kept outside lots at Main.
    expect((await pickLines(t.api, w.farm, order))[0]).toMatchObject({ lots: [], untracked: [{ location: { name: 'Main' }, quantity: '3' }], short: '0' });

    // 7 are available at Main (10 on hand, 3 committed), 5 of them outside lots, but only 2 of those are free.
    const transfer = async (quantity: string) => (await t.api.data<{ transferStock: { userErrors: { field: string[]; code: string; message: string }[] } }>(
      op.TRANSFER_STOCK, { input: { productId: lamb, fromLocationId: w.main, toLocationId: cold, quantity } })).transferStock.userErrors;
    const before = await stockByLocation(t.api, lamb);
    const refused = await transfer('5');
    expect(refused).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['quantity'] }]);
    // The order would ship 3 from there: 0 left, and the carcass is too big for its line.
    expect(refused[0]!.message).toContain(`producer order ${order}, waiting to be picked, would be 3 short after this`);
    // Nor is it written off.
    const { adjustStock } = await t.api.data<{ adjustStock: { userErrors: { field: string[]; code: string; message: string }[] } }>(
      'mutation ($input: AdjustStockInput!) { adjustStock(input: $input) { userErrors { field message code } } }',
      { input: { productId: lamb, locationId: w.main, delta: '-5', reason: 'bruised' } },
    );
    expect(adjustStock.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['delta'], message: expect.stringContaining(`producer order ${order}, waiting to be picked, would be 3 short`) }]);
    // 3 would leave it 2 of the 3 it ships there.
    expect(await transfer('3')).toMatchObject([{ code: 'INSUFFICIENT_STOCK', message: expect.stringContaining('would be 1 short') }]);
    expect(await stockByLocation(t.api, lamb)).toEqual(before);
    expect(await transfer('2')).toEqual([]);
    expect((await pickLines(t.api, w.farm, order))[0]).toMatchObject({ short: '0' });
    const shipped = await t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(SHIP, { input: { producerOrderId: order, carrier: 'Van', trackingReference: 'L-1' } });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    await expectStockConsistent(t.db);
  });

  it('moves no stock kept outside lots whose room an order waiting to be picked needs for its lot, where an open session holds the rest', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const depot = await addLocation(t.api, w.farm, 'Depot', 3);
    const pears = await w.product('Pears');
    // Main: a CLASS_II lot of 4. Cold store: an EXTRA lot of 4 and 3 kept outside lots.
    await receiveLot(t.api, pears, { code: 'LOW', quantity: '4', grade: 'CLASS_II', bestBefore: '2026-12-10' });
    const top = await receiveLot(t.api, pears, { code: 'TOP', quantity: '4', grade: 'EXTRA', bestBefore: '2026-12-10', locationId: cold });
    await adjustAt(t.api, pears, cold, '3');
    const extra = await createOfferSession(t.api, w.hub, [{ productId: pears, minGrade: 'EXTRA' }]);
    await buy(t.api, extra.id, 'restaurant', extra.offerFor(pears), '4'); // held at Main
    const open = await createOfferSession(t.api, w.hub, [{ productId: pears }], { closesAt: '2026-11-24T20:00:00+01:00' });
    await buy(t.api, open.id, 'ben', open.offerFor(pears), '3'); // held in the cold store, by a session still open
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, extra.id);
    expect((await pickLines(t.api, w.farm, order))[0]).toMatchObject({ lots: [{ lot: { id: top }, quantity: '4' }], untracked: [], short: '0' });

    // Cold store: 7 on hand, 3 held (they never move), the EXTRA lot's 4 picked: the 3 outside lots must stay.
    const before = await stockByLocation(t.api, pears);
    const { transferStock } = await t.api.data<{ transferStock: { userErrors: { field: string[]; code: string; message: string }[] } }>(
      op.TRANSFER_STOCK, { input: { productId: pears, fromLocationId: cold, toLocationId: depot, quantity: '3' } });
    expect(transferStock.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['quantity'], message: expect.stringContaining(`producer order ${order}, waiting to be picked, would be`) }]);
    expect(await stockByLocation(t.api, pears)).toEqual(before);
    const shipped = await t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(SHIP, { input: { producerOrderId: order, carrier: 'Van', trackingReference: 'T' } });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    await expectStockConsistent(t.db);
  });

  it('refuses a bad location and changes nothing', async () => {
    const w = await world(t);
    const result = await t.api.data<{ createLocation: { userErrors: { code: string; field: string[] }[] } }>(
      'mutation ($input: CreateLocationInput!) { createLocation(input: $input) { userErrors { code field } } }',
      { input: { producerId: w.farm, name: 'Main', priority: 0 } },
    );
    expect(result.createLocation.userErrors).toEqual([{ code: 'INVALID_INPUT', field: ['priority'] }]);
    const duplicate = await t.api.data<{ createLocation: { userErrors: { code: string; field: string[] }[] } }>(
      'mutation ($input: CreateLocationInput!) { createLocation(input: $input) { userErrors { code field } } }',
      { input: { producerId: w.farm, name: 'Main', priority: 2 } },
    );
    expect(duplicate.createLocation.userErrors).toEqual([{ code: 'INVALID_INPUT', field: ['name'] }]);
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM location WHERE producer_id = $1', [w.farm]);
    expect(rows[0].n).toBe(1);
  });

  it('refuses a rename to a name taken, and the next mutation of the same request is not charged with it', async () => {
    const w = await world(t);
    const cold = await addLocation(t.api, w.farm, 'Cold store', 2);
    const depot = await addLocation(t.api, w.farm, 'Depot', 3);
    const result = await t.api.data<Record<'rename' | 'reorder', { location: { name: string; priority: number } | null; userErrors: { code: string; field: string[] }[] }>>(
      `mutation ($rename: UpdateLocationInput!, $reorder: UpdateLocationInput!) {
         rename: updateLocation(input: $rename) { location { name priority } userErrors { code field } }
         reorder: updateLocation(input: $reorder) { location { name priority } userErrors { code field } } }`,
      { rename: { locationId: cold, name: 'Main' }, reorder: { locationId: depot, priority: 5 } },
    );
    expect(result.rename).toEqual({ location: null, userErrors: [{ code: 'INVALID_INPUT', field: ['name'] }] });
    expect(result.reorder).toEqual({ location: { name: 'Depot', priority: 5 }, userErrors: [] });
    const { rows } = await t.db.query('SELECT name, priority FROM location WHERE producer_id = $1 ORDER BY priority', [w.farm]);
    expect(rows).toEqual([{ name: 'Main', priority: 1 }, { name: 'Cold store', priority: 2 }, { name: 'Depot', priority: 5 }]);
  });
});

describe('fulfilment ownership', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it("refuses a producer acting on another producer's locations, lots, stock and lists", async () => {
    const mine = await world(t);
    const theirs = await world(t);
    const theirCheese = await theirs.product('Comté');
    const me = await t.as({ role: 'producer', producerId: mine.farm });
    const refusals = await Promise.all([
      me.data<{ r: { userErrors: { code: string }[] } }>('mutation ($i: CreateLocationInput!) { r: createLocation(input: $i) { userErrors { code } } }', { i: { producerId: theirs.farm, name: 'Mine now', priority: 2 } }),
      me.data<{ r: { userErrors: { code: string }[] } }>('mutation ($i: ReceiveLotInput!) { r: receiveLot(input: $i) { userErrors { code } } }', { i: { productId: theirCheese, code: 'X', quantity: '1', grade: 'EXTRA' } }),
      me.data<{ r: { userErrors: { code: string }[] } }>('mutation ($i: TransferStockInput!) { r: transferStock(input: $i) { userErrors { code } } }', { i: { productId: theirCheese, fromLocationId: theirs.main, toLocationId: mine.main, quantity: '1' } }),
    ]);
    expect(refusals.map((r) => r.r.userErrors.map((e) => e.code))).toEqual([['FORBIDDEN'], ['FORBIDDEN'], ['FORBIDDEN']]);
    const list = await me.request('query ($p: ID!) { pickList(producerId: $p, deliveryDay: "2026-11-25") { deliveryDay } }', { p: theirs.farm });
    expect(list.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const { rows } = await t.db.query('SELECT (SELECT count(*) FROM location WHERE producer_id = $1)::int AS locations, (SELECT count(*) FROM lot WHERE product_id = $2)::int AS lots', [theirs.farm, theirCheese]);
    expect(rows[0]).toEqual({ locations: 1, lots: 0 });
  });
});
