// Checkouts that arrive together are placed in one transaction, a savepoint each
// (place_customer_orders(), CheckoutBatcher): what one basket cannot have must never cost another
// basket its order, and each checkout must still get its own answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BasketRecord, CheckoutBatcher, type Placement } from '../../src/modules/orders/checkout-batch.js';
import { basketsFor } from '../support/baskets.js';
import { checkoutsBehindLockedLevels, levelsLockedElsewhere, lockedElsewhere } from '../support/locked-elsewhere.js';
import { expectStockConsistent } from '../support/invariants.js';
import { checkout, createHub, createProducer, createProduct, createSession, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';
import { waitFor } from '../support/wait.js';

const TIMEOUTS = { batchMs: 30_000, queueMs: 30_000 };

describe('checkouts placed together', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.stop());

  /** A product with 5 units, on offer in an open session, of which one checkout already holds 1 (so its producer order exists). */
  async function flashSale(name: string) {
    const producer = await createProducer(t.api, `${name} farm`);
    const product = await createProduct(t.api, producer, { name, unit: 'each', onHand: '5' });
    const session = await createSession(t.api, await createHub(t.api, `${name} hub`), {
      opensAt: '2026-11-23T07:00:00+01:00',
      closesAt: '2026-11-23T20:00:00+01:00',
      products: [product],
    });
    const first = await checkout(t.api, session.id, 'first customer', [{ offerId: session.offerFor(product), quantity: '1' }]);
    expect(first.userErrors).toEqual([]);
    const basket = await basketsFor(t.db, session.id, session.offerFor(product));
    return { product, session, basket };
  }

  async function heldEvents(product: string) {
    const { rows } = await t.db.query<{ customerOrderId: string; available: string }>(
      "SELECT customer_order_id AS \"customerOrderId\", trim_scale(available)::text AS available FROM domain_event WHERE kind = 'HELD' AND product_id = $1 ORDER BY id",
      [product],
    );
    return rows;
  }

  it('records a hold for the order it places and its line\'s producer order, whatever the basket says; refuses a hold no line has', async () => {
    const { product, basket } = await flashSale('Blackcurrants');
    const other = await flashSale('Whitecurrants');
    const place = (record: object) => t.db.query<{ placement: Placement }>('SELECT place_customer_order($1::jsonb) AS placement', [JSON.stringify(record)]);

    // A previous version's replica still names the order and producer order in each hold: ignored.
    const legacy = basket('legacy', 1);
    const stale = { customer_order_id: other.basket('x', 1).id, producer_order_id: legacy.id };
    const { rows: [{ placement }] } = await place({ ...legacy, holds: legacy.holds!.map((hold) => ({ ...hold, ...stale })) });
    const { rows: ledger } = await t.db.query(
      "SELECT customer_order_id AS \"orderId\", producer_order_id AS \"producerOrderId\" FROM stock_movement WHERE kind = 'HOLD' AND customer_order_id = $1",
      [legacy.id],
    );
    expect(ledger).toEqual([{ orderId: legacy.id, producerOrderId: placement.lines[0]!.producerOrderId }]);

    // A hold of another product than the basket's lines: nothing is written.
    const stray = basket('stray', 1);
    const before = await stockOf(t.api, other.product);
    await expect(place({ ...stray, holds: other.basket('y', 1).holds })).rejects.toMatchObject({ code: '23503' });
    const { rows: strays } = await t.db.query('SELECT id FROM customer_order WHERE id = $1', [stray.id]);
    expect(strays).toEqual([]);
    expect(await stockOf(t.api, other.product)).toEqual(before);
    expect(await stockOf(t.api, product)).toEqual({ onHand: '5', held: '2', committed: '0', available: '3' });
    await expectStockConsistent(t.db);
  });

  it('rolls back a basket whose hold the stock cannot take, or whose key is taken, alone: the others commit', async () => {
    const { product, basket } = await flashSale('Strawberries');
    const baskets = [basket('a', 1), basket('b', 10), basket('c', 1), basket('a', 1), basket('e', 1)];

    const { rows: [{ placements }] } = await t.db.query<{ placements: Placement[] }>('SELECT place_customer_orders($1::jsonb) AS placements', [
      JSON.stringify(baskets),
    ]);

    expect(placements.map((p) => p.order?.id ?? null)).toEqual([baskets[0]!.id, null, baskets[2]!.id, null, baskets[4]!.id]);
    // The hold of 10 was refused by the level's CHECK (23514); the second "a" found its key taken, which is no error.
    expect(placements.map((p) => p.error ?? null)).toEqual([null, expect.objectContaining({ code: '23514', constraint: 'stock_level_available_not_negative' }), null, null, null]);
    const { rows: [producerOrder] } = await t.db.query('SELECT po.id FROM producer_order po JOIN customer_order_line l ON l.producer_order_id = po.id WHERE l.customer_order_id = $1', [baskets[0]!.id]);
    expect(placements[0]!.lines).toEqual([{ offerId: baskets[0]!.lines[0]!.offer_id, producerOrderId: producerOrder.id }]);
    // Each placed basket's hold is recorded for its order and its line's producer order, which the basket did not name.
    const { rows: holds } = await t.db.query(
      "SELECT customer_order_id AS \"orderId\", producer_order_id AS \"producerOrderId\", trim_scale(held_delta)::text AS held FROM stock_movement WHERE kind = 'HOLD' AND customer_order_id = ANY($1::uuid[]) ORDER BY customer_order_id",
      [baskets.map((b) => b.id)],
    );
    const placed = [baskets[0]!.id, baskets[2]!.id, baskets[4]!.id].sort();
    expect(holds).toEqual(placed.map((orderId) => ({ orderId, producerOrderId: producerOrder.id, held: '1' })));

    const { rows: orders } = await t.db.query('SELECT id FROM customer_order WHERE id = ANY($1::uuid[]) ORDER BY idempotency_key', [baskets.map((b) => b.id)]);
    expect(orders.map((o) => o.id)).toEqual([baskets[0]!.id, baskets[2]!.id, baskets[4]!.id]);
    expect(await stockOf(t.api, product)).toEqual({ onHand: '5', held: '4', committed: '0', available: '1' });
    // One HELD event per placed basket, after the first checkout's, each with the availability after its hold.
    expect((await heldEvents(product)).slice(1)).toEqual([
      { customerOrderId: baskets[0]!.id, available: '3' },
      { customerOrderId: baskets[2]!.id, available: '2' },
      { customerOrderId: baskets[4]!.id, available: '1' },
    ]);
    await expectStockConsistent(t.db);
  });

  it('sends the checkouts of a product that arrive while its batch runs as its next batch, beside other products\' batches, and answers each its own', async () => {
    const raspberries = await flashSale('Raspberries');
    const gooseberries = await flashSale('Gooseberries');
    const batcher = new CheckoutBatcher(TIMEOUTS);
    const em = t.app.orm.em.fork();

    // The first of each product goes at once, alone; those sent while it runs wait, and go together.
    const baskets = [raspberries.basket('one', 1), gooseberries.basket('g1', 1), raspberries.basket('two', 1), raspberries.basket('three', 5),
      raspberries.basket('four', 1), raspberries.basket('five', 1), gooseberries.basket('g2', 2)];
    const placements = await Promise.all(baskets.map((b) => batcher.place(em, b)));

    expect(batcher.placed).toEqual({ batches: 4, baskets: 7 });
    expect(placements.map((p) => p.order?.id ?? null)).toEqual([baskets[0]!.id, baskets[1]!.id, baskets[2]!.id, null, baskets[4]!.id, baskets[5]!.id, baskets[6]!.id]);
    expect(await stockOf(t.api, raspberries.product)).toEqual({ onHand: '5', held: '5', committed: '0', available: '0' });
    expect(await stockOf(t.api, gooseberries.product)).toEqual({ onHand: '5', held: '4', committed: '0', available: '1' });
    await expectStockConsistent(t.db);
  });

  it('places the checkouts that arrive over the API while a batch of their product runs as one batch, each with its own order', async () => {
    const { product, session } = await flashSale('Redcurrants');
    const { batcher } = t.app.services.checkout;
    const before = { ...batcher.placed };
    const { levels, first, buy } = await checkoutsBehindLockedLevels(t, session, product);
    try {
      const together = ['a', 'b', 'c'].map(buy);
      await waitFor('the three checkouts to queue behind it', async () => (batcher.waiting === 3 ? true : undefined));
      await levels.release();

      const results = await Promise.all([first, ...together]);
      expect(results.map((r) => r.userErrors)).toEqual([[], [], [], []]);
      expect(new Set(results.map((r) => r.customerOrder!.id)).size).toBe(4);
      expect({ batches: batcher.placed.batches - before.batches, baskets: batcher.placed.baskets - before.baskets }).toEqual({ batches: 2, baskets: 4 });
    } finally {
      await levels.release();
    }
    expect(await stockOf(t.api, product)).toEqual({ onHand: '5', held: '5', committed: '0', available: '0' });
    await expectStockConsistent(t.db);
  });

  it('checks the session open as of when a waiting checkout is sent, not when it began', async () => {
    const { product, session } = await flashSale('Whitecurrants');
    const { batcher } = t.app.services.checkout;
    const { levels, first, buy } = await checkoutsBehindLockedLevels(t, session, product);
    try {
      const late = buy('late');
      await waitFor('the second checkout to queue behind it', async () => (batcher.waiting === 1 ? true : undefined));
      // The session closes while the second checkout waits for its batch.
      t.clock.set('2026-11-23T20:00:00+01:00');
      await levels.release();

      expect((await first).userErrors).toEqual([]);
      expect((await late).userErrors.map((e) => e.code)).toEqual(['SESSION_NOT_OPEN']);
    } finally {
      t.clock.set('2026-11-23T08:00:00+01:00');
      await levels.release();
    }
    expect(await stockOf(t.api, product)).toEqual({ onHand: '5', held: '2', committed: '0', available: '3' });
  });

  it('fails every checkout of a batch that fails as a whole with its error, and keeps none of it', async () => {
    const { product, basket } = await flashSale('Blackberries');
    const batcher = new CheckoutBatcher(TIMEOUTS);
    const em = t.app.orm.em.fork();
    // A basket that is not even a valid record (an id that is no UUID) fails the batch's first
    // statement, outside any basket's savepoint, as a lost connection would fail all of it.
    const broken = { ...basket('broken', 1), lines: [{ ...basket('x', 1).lines[0]!, producer_id: 'not a uuid' }] };

    const [alone, ...together] = await Promise.allSettled([basket('alone', 1), basket('with the broken one', 1), broken].map((b) => batcher.place(em, b)));

    expect(alone!.status === 'fulfilled' && alone.value.order).toBeTruthy();
    expect(together.map((r) => r.status === 'rejected' && (r.reason as { code?: string }).code)).toEqual(['22P02', '22P02']);
    expect(await stockOf(t.api, product)).toEqual({ onHand: '5', held: '2', committed: '0', available: '3' });
    await expectStockConsistent(t.db);
  });

  it('gives up on a basket whose idempotency key another transaction is writing, instead of deadlocking with it', async () => {
    const { product, session, basket } = await flashSale('Cloudberries');
    const retried = basket('retried', 1);
    const other = basket('other', 1);
    // Another checkout with the same key, in a transaction of its own (the path that applies the
    // hold at COMMIT): it has written the order and its hold, and will lock the levels as it commits.
    const first = await t.db.connect();
    try {
      await first.query('BEGIN');
      await first.query('SELECT place_customer_order($1::jsonb)', [JSON.stringify(basket('retried', 1))]);

      // The batch locks the levels, then finds the key taken by a transaction still open: it
      // must not wait for it (which would wait for the levels in turn), but give that basket up.
      const { rows: [{ placements }] } = await t.db.query<{ placements: Placement[] }>('SELECT place_customer_orders($1::jsonb) AS placements', [
        JSON.stringify([retried, other]),
      ]);
      expect(placements.map((p) => [p.order?.id ?? null, p.error?.code ?? null])).toEqual([[null, '55P03'], [other.id, null]]);

      // The first transaction then gets the levels and commits: nothing deadlocked.
      await first.query('COMMIT');
    } finally {
      first.release();
    }
    const { rows } = await t.db.query<{ key: string }>('SELECT idempotency_key AS key FROM customer_order WHERE sales_session_id = $1', [session.id]);
    expect(rows.map((r) => r.key)).toEqual(expect.arrayContaining(['other', 'retried']));
    expect(rows).toHaveLength(3);
    expect((await stockOf(t.api, product)).held).toBe('3');
    await expectStockConsistent(t.db);
  });

  it('fails a batch its database has not answered by the deadline as unavailable, and sends the next batch at once', async () => {
    const { product, basket } = await flashSale('Mulberries');
    const batcher = new CheckoutBatcher({ batchMs: 300, queueMs: 30_000 });
    const em = t.app.orm.em.fork();
    const stuck = basket('stuck', 1);
    // The levels locked elsewhere keep the batch from answering, as a lost connection would.
    const levels = await levelsLockedElsewhere(t.db, product);
    try {
      await expect(batcher.place(em, stuck)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      // The next checkout of the product is sent at once, not queued behind the one given up.
      const next = batcher.place(em, basket('next', 1));
      expect(batcher.placed.batches).toBe(2);
      await levels.release();
      expect((await next).order).not.toBeNull();
    } finally {
      await levels.release();
    }
    // The batch given up still committed once the levels were free: its client, trying again
    // with its idempotency key, gets that order.
    await waitFor('the batch given up to commit', async () => ((await stockOf(t.api, product)).held === '3' ? true : undefined));
    const { rows } = await t.db.query('SELECT 1 FROM customer_order WHERE id = $1', [stuck.id]);
    expect(rows).toHaveLength(1);
  });

  it('fails a checkout that waited longer for its batch than it may wait for a connection as unavailable', async () => {
    const { product, basket } = await flashSale('Loganberries');
    const batcher = new CheckoutBatcher({ batchMs: 30_000, queueMs: 200 });
    const em = t.app.orm.em.fork();
    const levels = await levelsLockedElsewhere(t.db, product);
    try {
      const first = batcher.place(em, basket('first', 1));
      await expect(batcher.place(em, basket('waiting', 1))).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      expect(batcher.waiting).toBe(0);
      await levels.release();
      expect((await first).order).not.toBeNull();
    } finally {
      await levels.release();
    }
    expect(batcher.placed).toEqual({ batches: 1, baskets: 1 });
    expect(await stockOf(t.api, product)).toEqual({ onHand: '5', held: '2', committed: '0', available: '3' });
  });

  it('queues checkouts by session and products: a batch held up on one session or product holds up no other', async () => {
    const producer = await createProducer(t.api, 'Two-field farm');
    const [plums, pears] = await Promise.all(['Plums', 'Pears'].map((name) => createProduct(t.api, producer, { name, unit: 'each', onHand: '5' })));
    const hours = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00' };
    const here = await createSession(t.api, await createHub(t.api, 'Orchard hub'), { ...hours, products: [plums!, pears!] });
    const there = await createSession(t.api, await createHub(t.api, 'Valley hub'), { ...hours, products: [plums!] });
    for (const [session, product] of [[here, plums], [there, plums]] as const) {
      expect((await checkout(t.api, session.id, 'first', [{ offerId: session.offerFor(product!), quantity: '1' }])).userErrors).toEqual([]);
    }
    const plumsHere = await basketsFor(t.db, here.id, here.offerFor(plums!));
    const pearsHere = await basketsFor(t.db, here.id, here.offerFor(pears!));
    const plumsThere = await basketsFor(t.db, there.id, there.offerFor(plums!));
    const batcher = new CheckoutBatcher(TIMEOUTS);
    const em = t.app.orm.em.fork();

    /** `heldUp` waits behind `lock`, and `free`, placed meanwhile, does not; once released, `heldUp` goes too. */
    const onlyHeldUp = async (lock: { release(): Promise<void> }, heldUp: BasketRecord, free: BasketRecord) => {
      try {
        const waiting = batcher.place(em, heldUp);
        expect((await batcher.place(em, free)).order).not.toBeNull();
        await lock.release();
        expect((await waiting).order).not.toBeNull();
      } finally {
        await lock.release();
      }
    };
    // One session held up (as by its close): the other session's checkout of the same product goes.
    await onlyHeldUp(await lockedElsewhere(t.db, 'SELECT 1 FROM sales_session WHERE id = $1 FOR UPDATE', [here.id]),
      plumsHere('held up by its session', 1), plumsThere('other session', 1));
    // One product held up (its levels locked): the same session's checkout of another product goes.
    await onlyHeldUp(await levelsLockedElsewhere(t.db, plums!), plumsHere('held up by its product', 1), pearsHere('other product', 1));
    // Plums: the two first checkouts and three here; pears: one.
    expect((await stockOf(t.api, plums!)).held).toBe('5');
    expect((await stockOf(t.api, pears!)).held).toBe('1');
    await expectStockConsistent(t.db);
  });
});

describe('a batch deadline past what a timer can hold', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Each accepted (at most 24 days); together, with the second's margin, past a timer's 24.8 days.
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { DATABASE_ACQUIRE_TIMEOUT: 'P1D', DATABASE_STATEMENT_TIMEOUT: 'P24D' } });
  });
  afterAll(() => t.stop());

  it('still lets a batched checkout answer with its order (a timer that long would fire at once)', async () => {
    const w = await openSessionWorld(t.api, { carrots: '100' });
    const offerId = w.session.offerFor(w.carrots);
    // The first makes the producer order (in a transaction); the second goes through the batcher.
    expect((await checkout(t.api, w.session.id, 'ali', [{ offerId, quantity: '1' }])).userErrors).toEqual([]);
    const before = t.app.services.checkout.batcher.placed.baskets;
    const second = await checkout(t.api, w.session.id, 'bob', [{ offerId, quantity: '1' }]);
    expect(second.userErrors).toEqual([]);
    expect(second.customerOrder?.status).toBe('PENDING_PAYMENT');
    expect(t.app.services.checkout.batcher.placed.baskets).toBe(before + 1);
  });
});
