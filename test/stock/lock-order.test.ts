// Every writer locks all of a product's stock levels, often in more than one statement. A level
// created between them (a new location) must not make two writers lock in opposite orders: a
// location's id is random, so the new level used to sort before the ones already held.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLResponse } from '../support/graphql.js';
import { expectStockConsistent } from '../support/invariants.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor, waitForLockWait } from '../support/wait.js';
import { addLocation, adjustAt, buy, closeSessions, createOfferSession, producerOrderOf, receiveLot, SHIP, world } from '../fulfilment/support.js';

const ADJUST = 'mutation ($input: AdjustStockInput!) { adjustStock(input: $input) { userErrors { code message } } }';

describe('the order stock levels are locked in, with a location added meanwhile', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  const deadlocks = async () => Number((await t.db.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0].deadlocks);

  /** Waits until some request waits for a row lock (another transaction's, or a tuple's). */
  const waitForRowLockWait = (what: string) =>
    waitFor(what, async () => {
      const { rowCount } = await t.db.query(
        `SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE NOT l.granted AND l.locktype IN ('transactionid', 'tuple') AND a.datname = current_database()`,
      );
      return rowCount ? true : undefined;
    });

  /**
   * Adds a location whose id sorts before every random one, as createLocation() does (its levels
   * made under the producer's lock): by location id, its levels would come first.
   */
  let added = 0;
  async function locationSortingFirst(farm: string): Promise<string> {
    added += 1;
    const id = `00000000-0000-4000-8000-${String(added).padStart(12, '0')}`;
    const client = await t.db.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM producer WHERE id = $1 FOR NO KEY UPDATE', [farm]);
      await client.query("INSERT INTO location (id, producer_id, name, priority) VALUES ($1, $2, 'Shed', 9)", [id, farm]);
      await client.query('INSERT INTO stock_level (product_id, location_id) SELECT id, $1 FROM product WHERE producer_id = $2', [id, farm]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    return id;
  }

  /**
   * `first` is held between its statements on the levels (by `table`, locked here, which it reads
   * in between); a location is added; `second`, an adjustment, begins and waits for the levels;
   * then `first` goes on. Both must succeed, without a deadlock.
   */
  async function race(table: string, first: () => Promise<GraphQLResponse<unknown>>, farm: string, main: string, product: string) {
    const before = await deadlocks();
    const pause = await t.db.connect();
    let results: GraphQLResponse<unknown>[];
    try {
      await pause.query('BEGIN');
      await pause.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
      const held = first();
      await waitForLockWait(t.db, `the first write to hold the levels and wait on ${table}`);
      await locationSortingFirst(farm);
      const second = t.api.request(ADJUST, { input: { productId: product, delta: '1', locationId: main } });
      await waitForRowLockWait('the second write to wait for the levels');
      await pause.query('COMMIT');
      results = await Promise.all([held, second]);
    } finally {
      pause.release();
    }
    expect(results.map((r) => r.errors ?? [])).toEqual([[], []]);
    expect(await deadlocks()).toBe(before);
    await expectStockConsistent(t.db);
  }

  it('a write-off (levels locked, lots read, levels locked again) and an adjustment', async () => {
    const w = await world(t);
    const kale = await w.product('Kale');
    await adjustAt(t.api, kale, w.main, '10');
    await race('lot', () => t.api.request(ADJUST, { input: { productId: kale, delta: '-1', locationId: w.main } }), w.farm, w.main, kale);
  });

  it('a shipment (levels locked, plan read, levels locked again) and an adjustment', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const kale = await w.product('Kale');
    await receiveLot(t.api, kale, { code: 'K-1', quantity: '5', bestBefore: '2026-12-20' });
    const session = await createOfferSession(t.api, w.hub, [{ productId: kale }]);
    await buy(t.api, session.id, 'ana', session.offerFor(kale), '2');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    await race('lot_pick', () => t.api.request(SHIP, { input: { producerOrderId: order, carrier: 'Van', trackingReference: 'K-9' } }), w.farm, w.main, kale);
  });

  it('numbers a new product\'s levels in location order, the order a previous version\'s replica locks them in', async () => {
    const w = await world(t);
    for (let i = 0; i < 5; i += 1) await addLocation(t.api, w.farm, `Store ${i}`, 2 + i);
    const beets = await w.product('Beets');
    const order = async (by: string) =>
      (await t.db.query<{ location_id: string }>(`SELECT location_id FROM stock_level WHERE product_id = $1 ORDER BY ${by}`, [beets])).rows.map((r) => r.location_id);
    expect(await order('lock_seq')).toHaveLength(6);
    expect(await order('lock_seq')).toEqual(await order('location_id'));
  });
});
