// Many customers at many hubs check out the same product at once, over real HTTP connections
// and so over separate database connections: exactly the stock there is gets held, no more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStockConsistent } from '../support/invariants.js';
import { checkout, createHub, createProducer, createProduct, createSession, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('concurrent checkouts', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { DATABASE_POOL_SIZE: '32' } });
  });
  afterAll(() => t.stop());

  it('holds exactly the 50 units there are when 200 checkouts race for them', async () => {
    const producer = await createProducer(t.api, 'Strawberry farm');
    const strawberries = await createProduct(t.api, producer, { name: 'Strawberries', unit: 'each', onHand: '50' });
    const sessions = await Promise.all(
      ['Hub A', 'Hub B', 'Hub C', 'Hub D'].map(async (name) =>
        createSession(t.api, await createHub(t.api, name), {
          opensAt: '2026-11-23T07:00:00+01:00',
          closesAt: '2026-11-23T20:00:00+01:00',
          products: [strawberries],
        }),
      ),
    );

    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const session = sessions[i % sessions.length]!;
        return checkout(t.api, session.id, `customer-${i}`, [{ offerId: session.offerFor(strawberries), quantity: '1' }]);
      }),
    );

    const held = results.filter((r) => r.customerOrder?.status === 'PENDING_PAYMENT');
    const refused = results.filter((r) => r.userErrors.some((e) => e.code === 'INSUFFICIENT_STOCK'));
    expect(held).toHaveLength(50);
    expect(refused).toHaveLength(150);
    expect(held.length + refused.length).toBe(200);
    expect(await stockOf(t.api, strawberries)).toEqual({ onHand: '50', held: '50', committed: '0', available: '0' });

    const { rows } = await t.db.query("SELECT count(*)::int AS n FROM stock_movement WHERE kind = 'HOLD'");
    expect(rows[0].n).toBe(50);
    await expectStockConsistent(t.db);
  });

  it('never deadlocks when baskets take the same products in opposite orders', async () => {
    const producer = await createProducer(t.api, 'Mixed farm');
    const products = await Promise.all(
      ['Leeks', 'Onions', 'Potatoes'].map((name) => createProduct(t.api, producer, { name, onHand: '1000' })),
    );
    const session = await createSession(t.api, await createHub(t.api, 'Busy hub'), {
      opensAt: '2026-11-23T07:00:00+01:00',
      closesAt: '2026-11-23T20:00:00+01:00',
      products,
    });
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) => {
        const order = i % 2 === 0 ? products : [...products].reverse();
        return checkout(t.api, session.id, `c-${i}`, order.map((p) => ({ offerId: session.offerFor(p), quantity: '1.5' })));
      }),
    );
    expect(results.every((r) => r.userErrors.length === 0)).toBe(true);
    for (const product of products) {
      expect((await stockOf(t.api, product)).held).toBe('180');
    }
    await expectStockConsistent(t.db);
  });
});
