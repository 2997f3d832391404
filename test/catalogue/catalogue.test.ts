import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { adjustStock, createProducer, createProduct, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';

describe('producers, hubs, products and stock', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.stop());

  it("creates a producer's products and lists them under the producer", async () => {
    const producer = await createProducer(t.api, 'Boulangerie Martin');
    const bread = await createProduct(t.api, producer, { name: 'Sourdough loaf', unit: 'each', sku: 'LOAF-1' });
    const { producer: found } = await t.api.data<{ producer: { name: string; products: { id: string; sku: string; unit: string; producer: { id: string }; stock: unknown }[] } }>(
      'query ($id: ID!) { producer(id: $id) { name products { id sku unit producer { id } stock { onHand held committed available } } } }',
      { id: producer },
    );
    expect(found).toEqual({
      name: 'Boulangerie Martin',
      products: [{ id: bread, sku: 'LOAF-1', unit: 'each', producer: { id: producer }, stock: { onHand: '0', held: '0', committed: '0', available: '0' } }],
    });
  });

  it('adjusts stock on hand up and down, recording each change in the ledger', async () => {
    const producer = await createProducer(t.api, 'Jean');
    const carrots = await createProduct(t.api, producer, { name: 'Carrots' });
    expect((await adjustStock(t.api, carrots, '12.5', 'harvest')).userErrors).toEqual([]);
    expect((await adjustStock(t.api, carrots, '-2.25', 'slugs')).userErrors).toEqual([]);
    expect(await stockOf(t.api, carrots)).toEqual({ onHand: '10.25', held: '0', committed: '0', available: '10.25' });
    const { rows } = await t.db.query("SELECT kind, on_hand_delta::text, reason FROM stock_movement WHERE product_id = $1 ORDER BY id", [carrots]);
    expect(rows).toEqual([
      { kind: 'ADJUST', on_hand_delta: '12.500', reason: 'harvest' },
      { kind: 'ADJUST', on_hand_delta: '-2.250', reason: 'slugs' },
    ]);
    await expectStockConsistent(t.db);
  });

  it('refuses to take away stock that customers hold', async () => {
    const w = await openSessionWorld(t.api, { carrots: '10' });
    t.clock.set('2026-11-23T09:00:00+01:00');
    await t.api.data(op.CHECKOUT, {
      input: { salesSessionId: w.session.id, customerRef: 'ali', idempotencyKey: randomUUID(), lines: [{ offerId: w.session.offerFor(w.carrots), quantity: '7' }] },
    });
    const result = await adjustStock(t.api, w.carrots, '-4');
    expect(result.userErrors).toEqual([
      { code: 'INSUFFICIENT_STOCK', field: ['delta'], message: 'cannot remove 4: only 3 is available (the rest is held or committed)' },
    ]);
    expect((await adjustStock(t.api, w.carrots, '-3')).userErrors).toEqual([]);
    expect(await stockOf(t.api, w.carrots)).toEqual({ onHand: '7', held: '7', committed: '0', available: '0' });
  });

  it.each([
    ['zero', '0', 'INVALID_INPUT'],
    ['not a number', 'lots', 'INVALID_INPUT'],
    ['too precise', '0.0001', 'INVALID_INPUT'],
    ['too large', '99999999999', 'INVALID_INPUT'],
  ])('refuses a delta that is %s', async (_name, delta, code) => {
    const carrots = await createProduct(t.api, await createProducer(t.api, 'Jean'), { name: 'Carrots', onHand: '1' });
    const result = await adjustStock(t.api, carrots, delta);
    expect(result.userErrors).toEqual([expect.objectContaining({ code, field: ['delta'] })]);
    expect((await stockOf(t.api, carrots)).onHand).toBe('1');
  });

  it('refuses an unknown product, producer or duplicate SKU', async () => {
    expect((await adjustStock(t.api, randomUUID(), '1')).userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND', field: ['productId'] })]);
    const create = (input: Record<string, unknown>) =>
      t.api.data<{ createProduct: { product: unknown; userErrors: { code: string; field: string[] }[] } }>(op.CREATE_PRODUCT, {
        input: { producerId: randomUUID(), name: 'Leeks', sku: 'LEEK', unit: 'kg', ...input },
      });
    expect((await create({})).createProduct.userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND', field: ['producerId'] })]);
    const producer = await createProducer(t.api, 'Jean');
    expect((await create({ producerId: producer })).createProduct.userErrors).toEqual([]);
    // The same SKU for another product (the same request again is a retry: retried-creations.test.ts).
    const duplicate = await create({ producerId: producer, name: 'Baby leeks' });
    expect(duplicate.createProduct).toEqual({ product: null, userErrors: [expect.objectContaining({ code: 'INVALID_INPUT', field: ['sku'] })] });
    const blank = await create({ producerId: producer, name: ' ', sku: '', unit: 'x'.repeat(21) });
    expect(blank.createProduct.userErrors.map((e) => e.field)).toEqual([['name'], ['sku'], ['unit']]);
  });

  it('refuses a blank producer or hub name', async () => {
    const producer = await t.api.data<{ createProducer: { producer: unknown; userErrors: { code: string }[] } }>(op.CREATE_PRODUCER, { input: { name: '' } });
    expect(producer.createProducer).toEqual({ producer: null, userErrors: [expect.objectContaining({ code: 'INVALID_INPUT', field: ['name'] })] });
    const hub = await t.api.data<{ createHub: { hub: unknown; userErrors: { code: string }[] } }>(op.CREATE_HUB, { input: { name: 'x'.repeat(201) } });
    expect(hub.createHub.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['name'] })]);
  });

  it('answers null for records that do not exist, whatever the id looks like', async () => {
    for (const id of [randomUUID(), 'not-a-uuid']) {
      const data = await t.api.data<Record<string, unknown>>(
        'query ($id: ID!) { producer(id: $id) { id } hub(id: $id) { id } product(id: $id) { id } salesSession(id: $id) { id } customerOrder(id: $id) { id } }',
        { id },
      );
      expect(data).toEqual({ producer: null, hub: null, product: null, salesSession: null, customerOrder: null });
    }
  });
});
