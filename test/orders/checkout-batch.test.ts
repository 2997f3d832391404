// Checkouts that arrive together are placed in one transaction, a savepoint each
// (place_customer_orders(), CheckoutBatcher): what one basket cannot have must never cost another
// basket its order, and each checkout must still get its own answer.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BasketRecord, CheckoutBatcher, type Placement } from '../../src/modules/orders/checkout-batch.js';
import { expectStockConsistent } from '../support/invariants.js';
import { checkout, createHub, createProducer, createProduct, createSession, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

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
    const { rows: [ids] } = await t.db.query<{ hubId: string; producerOrderId: string; locationId: string }>(
      `SELECT s.hub_id AS "hubId", po.id AS "producerOrderId", l.location_id AS "locationId"
         FROM sales_session s JOIN producer_order po ON po.sales_session_id = s.id, stock_level l
        WHERE s.id = $1 AND l.product_id = $2`,
      [session.id, product],
    );
    /** A basket of `quantity` units, held at the product's one location, as CheckoutService writes it. */
    const basket = (idempotencyKey: string, quantity: number): BasketRecord => {
      const id = randomUUID();
      return {
        id,
        salesSessionId: session.id,
        hubId: ids!.hubId,
        customerRef: `customer ${idempotencyKey}`,
        idempotencyKey,
        requestHash: `hash of ${idempotencyKey}`,
        at: '2026-11-23T08:00:00.000Z',
        holdExpiresAt: '2026-11-23T08:15:00.000Z',
        lines: [{ offer_id: session.offerFor(product), product_id: product, producer_id: producer, quantity: String(quantity), price_amount: 250, currency: 'EUR' }],
        holds: [{ product_id: product, location_id: ids!.locationId, held_delta: String(quantity), customer_order_id: id, producer_order_id: ids!.producerOrderId }],
      };
    };
    return { product, session, basket };
  }

  async function heldEvents(product: string) {
    const { rows } = await t.db.query<{ customerOrderId: string; available: string }>(
      "SELECT customer_order_id AS \"customerOrderId\", trim_scale(available)::text AS available FROM domain_event WHERE kind = 'HELD' AND product_id = $1 ORDER BY id",
      [product],
    );
    return rows;
  }

  it('rolls back a basket whose hold the stock cannot take, or whose key is taken, alone: the others commit', async () => {
    const { product, basket } = await flashSale('Strawberries');
    const baskets = [basket('a', 1), basket('b', 10), basket('c', 1), basket('a', 1), basket('e', 1)];

    const { rows: [{ placements }] } = await t.db.query<{ placements: Placement[] }>('SELECT place_customer_orders($1::jsonb) AS placements', [
      JSON.stringify(baskets),
    ]);

    expect(placements.map((p) => p.order?.id ?? null)).toEqual([baskets[0]!.id, null, baskets[2]!.id, null, baskets[4]!.id]);
    // The hold of 10 was refused by the level's CHECK (23514); the second "a" found its key taken, which is no error.
    expect(placements.map((p) => (p as { error?: string }).error ?? null)).toEqual([null, '23514', null, null, null]);
    expect(placements[0]!.lines).toEqual([{ offerId: baskets[0]!.lines[0]!.offer_id, producerOrderId: baskets[0]!.holds![0]!.producer_order_id }]);

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
    const batcher = new CheckoutBatcher();
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

  it('answers every basket of a batch that fails as a whole with no order, and keeps none of it', async () => {
    const { product, basket } = await flashSale('Blackberries');
    const batcher = new CheckoutBatcher();
    const em = t.app.orm.em.fork();
    // A basket that is not even a valid record (an id that is no UUID) fails the batch's first
    // statement, outside any basket's savepoint: as a lost connection would, for all of them.
    const broken = { ...basket('broken', 1), holds: [{ ...basket('x', 1).holds![0]!, producer_order_id: 'not a uuid' }] };

    const [alone, ...together] = await Promise.all([basket('alone', 1), basket('with the broken one', 1), broken].map((b) => batcher.place(em, b)));

    expect(alone!.order).not.toBeNull();
    expect(together).toEqual([{ order: null, lines: [] }, { order: null, lines: [] }]);
    expect(await stockOf(t.api, product)).toEqual({ onHand: '5', held: '2', committed: '0', available: '3' });
    await expectStockConsistent(t.db);
  });
});
