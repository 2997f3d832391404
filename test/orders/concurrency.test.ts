// Many customers at many hubs check out the same product at once, over real HTTP connections
// and so over separate database connections: exactly the stock there is gets held, no more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStockConsistent } from '../support/invariants.js';
import { adjustStock, checkout, createHub, createProducer, createProduct, createSession, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor, waitForLockWait } from '../support/wait.js';

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

  it('numbers the HELD events of a product in the order their holds committed, so availability only goes down', async () => {
    const producer = await createProducer(t.api, 'Cherry farm');
    const cherries = await createProduct(t.api, producer, { name: 'Cherries', unit: 'each', onHand: '1000' });
    const session = await createSession(t.api, await createHub(t.api, 'Flash hub'), {
      opensAt: '2026-11-23T07:00:00+01:00',
      closesAt: '2026-11-23T20:00:00+01:00',
      products: [cherries],
    });
    // Holds are applied at COMMIT, after the event is written: commits queue on the product's
    // stock rows in an order of their own, which the events' numbering must follow.
    const results = await Promise.all(
      Array.from({ length: 150 }, (_, i) => checkout(t.api, session.id, `c-${i}`, [{ offerId: session.offerFor(cherries), quantity: '1' }])),
    );
    expect(results.filter((r) => r.userErrors.length > 0)).toEqual([]);
    const events = await waitFor('every HELD event to be positioned', async () => {
      const { rows } = await t.db.query<{ available: string; position: string | null }>(
        "SELECT trim_scale(available)::text AS available, position::text FROM domain_event WHERE kind = 'HELD' AND product_id = $1 ORDER BY domain_event.position",
        [cherries],
      );
      return rows.length === 150 && rows.every((r) => r.position !== null) ? rows.map((r) => r.available) : undefined;
    });
    expect(events).toEqual(Array.from({ length: 150 }, (_, i) => String(999 - i)));
    expect((await stockOf(t.api, cherries)).available).toBe('850');
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

  it('places nothing for a checkout that read the session open while a trader was closing it', async () => {
    const producer = await createProducer(t.api, 'Orchard');
    const apples = await createProduct(t.api, producer, { name: 'Apples', onHand: '100' });
    const session = await createSession(t.api, await createHub(t.api, 'Closing hub'), {
      opensAt: '2026-11-23T07:00:00+01:00',
      closesAt: '2026-11-23T20:00:00+01:00',
      products: [apples],
    });
    // An earlier checkout made the producer's order, so the next one takes the two-round-trip way.
    expect((await checkout(t.api, session.id, 'first', [{ offerId: session.offerFor(apples), quantity: '1' }])).userErrors).toEqual([]);

    // The trader's early close has locked the session and not committed yet.
    const closing = await t.db.connect();
    try {
      await closing.query('BEGIN');
      await closing.query('SELECT id FROM sales_session WHERE id = $1 FOR UPDATE', [session.id]);
      const late = checkout(t.api, session.id, 'late', [{ offerId: session.offerFor(apples), quantity: '1' }]);
      // The checkout read the session as open (a plain read does not wait) and now waits to write.
      await waitForLockWait(t.db, 'the checkout to wait for the close');
      await closing.query('UPDATE sales_session SET closed_at = now() WHERE id = $1', [session.id]);
      await closing.query('COMMIT');

      expect((await late).userErrors.map((e) => e.code)).toEqual(['SESSION_NOT_OPEN']);
    } finally {
      closing.release();
    }
    const { rows } = await t.db.query("SELECT count(*)::int AS n FROM customer_order WHERE sales_session_id = $1 AND customer_ref = 'late'", [session.id]);
    expect(rows[0].n).toBe(0);
    expect((await stockOf(t.api, apples)).held).toBe('1');
    await expectStockConsistent(t.db);
  });

  it('takes stock down from the newest level when another writer raised it while the change waited', async () => {
    const producer = await createProducer(t.api, 'Dairy');
    const butter = await createProduct(t.api, producer, { name: 'Butter', unit: 'each', onHand: '3' });
    const session = await createSession(t.api, await createHub(t.api, 'Dairy hub'), {
      opensAt: '2026-11-23T07:00:00+01:00',
      closesAt: '2026-11-23T20:00:00+01:00',
      products: [butter],
    });
    expect((await checkout(t.api, session.id, 'all-of-it', [{ offerId: session.offerFor(butter), quantity: '3' }])).userErrors).toEqual([]);

    // Another writer adds a unit and has not committed yet; nothing is available until it does.
    const other = await t.db.connect();
    try {
      await other.query('BEGIN');
      await other.query('UPDATE stock_level SET on_hand = on_hand + 1 WHERE product_id = $1', [butter]);
      await other.query(
        `INSERT INTO stock_movement (product_id, location_id, kind, on_hand_delta, reason, created_at)
         SELECT product_id, location_id, 'ADJUST', 1, 'found one', now() FROM stock_level WHERE product_id = $1`,
        [butter],
      );
      const writeOff = adjustStock(t.api, butter, '-1', 'dropped');
      await waitForLockWait(t.db, 'the write-off to wait for the other writer');
      await other.query('COMMIT');
      // The write-off began while the level read 3 held of 3, but it applies to the level as it is now.
      expect((await writeOff).userErrors).toEqual([]);
    } finally {
      other.release();
    }
    expect(await stockOf(t.api, butter)).toEqual({ onHand: '3', held: '3', committed: '0', available: '0' });
    await expectStockConsistent(t.db);
  });
});
