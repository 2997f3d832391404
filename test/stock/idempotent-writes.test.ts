import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLClient } from '../support/graphql.js';
import { expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { createProducer, createProduct, type UserErrorShape } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { allAtOnce } from '../support/at-once.js';
import { waitForLockWait } from '../support/wait.js';
import { addLocation, locationsOf, stockByLocation } from '../fulfilment/support.js';

// A producer whose adjustStock(delta: "40") times out after the commit and retries must not end
// with 80 more on hand: customers would check out stock that does not exist.

type Payload = { product: { id: string; stock: Record<string, string> } | null; userErrors: UserErrorShape[] };
type TransferPayload = { product: { id: string; stockByLocation: { location: { name: string }; onHand: string; available: string }[] } | null; userErrors: UserErrorShape[] };

const TRANSFER_STOCK = `mutation ($input: TransferStockInput!) { transferStock(input: $input) {
  product { id stockByLocation { location { name } onHand available } } ${op.USER_ERRORS} } }`;

describe('stock writes with an idempotency key', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  /** A producer with a product and its own token, as a producer's system would call. */
  async function farm(onHand?: string) {
    const producerId = await createProducer(t.api, `Farm ${randomUUID().slice(0, 6)}`);
    const productId = await createProduct(t.api, producerId, { name: 'Carrots', onHand });
    const [main] = await locationsOf(t.api, producerId);
    const api = await t.as({ role: 'producer', producerId });
    return { producerId, productId, main: main!.id, api };
  }

  async function adjust(api: GraphQLClient, input: Record<string, unknown>): Promise<Payload> {
    return (await api.data<{ adjustStock: Payload }>(op.ADJUST_STOCK, { input })).adjustStock;
  }

  async function transfer(api: GraphQLClient, input: Record<string, unknown>): Promise<TransferPayload> {
    return (await api.data<{ transferStock: TransferPayload }>(TRANSFER_STOCK, { input })).transferStock;
  }

  /** Everything a stock write leaves behind for a product: its levels, ledger rows, events and keys. */
  async function footprint(productId: string) {
    const { rows: [row] } = await t.db.query(
      `SELECT (SELECT json_agg(json_build_object('location', location_id, 'onHand', on_hand::text, 'held', held::text) ORDER BY location_id)
                 FROM stock_level WHERE product_id = $1) AS levels,
              (SELECT count(*)::int FROM stock_movement WHERE product_id = $1) AS movements,
              (SELECT count(*)::int FROM domain_event WHERE product_id = $1) AS events,
              (SELECT count(*)::int FROM idempotency_key WHERE result_id = $1 AND kind IN ('ADJUST', 'TRANSFER')) AS keys`,
      [productId],
    );
    return row as { levels: unknown[]; movements: number; events: number; keys: number };
  }

  /** Runs `requests` at once, while the product's stock levels are locked (see allAtOnce()). */
  function atOnce<T>(productId: string, requests: () => Promise<T>[]): Promise<T[]> {
    return allAtOnce(t.db, (gate) => gate.query('SELECT 1 FROM stock_level WHERE product_id = $1 FOR UPDATE', [productId]), requests);
  }

  describe('adjustStock', () => {
    it('returns the first result for a repeated key and adds the stock once', async () => {
      const f = await farm();
      const key = randomUUID();
      const first = await adjust(f.api, { productId: f.productId, delta: '40', reason: 'harvest', idempotencyKey: key });
      expect(first).toEqual({ product: { id: f.productId, stock: { onHand: '40', held: '0', committed: '0', available: '40' } }, userErrors: [] });
      const after = await footprint(f.productId);

      const again = await adjust(f.api, { productId: f.productId, delta: '40', reason: 'harvest', idempotencyKey: key });
      expect(again).toEqual(first);
      // Spelt differently, the same request: surrounding spaces, upper-case ids, trailing zeros.
      const respelt = await adjust(f.api, { productId: f.productId.toUpperCase(), delta: '40.000', reason: ' harvest ', idempotencyKey: `  ${key} ` });
      expect(respelt).toEqual(first);
      expect(await footprint(f.productId)).toEqual(after);
      expect(after).toMatchObject({ movements: 1, events: 1, keys: 1 });
      await expectStockConsistent(t.db);
    });

    it('forgets a key after IDEMPOTENCY_KEY_RETENTION (30 days): the same key is then a new request', async () => {
      const f = await farm();
      const key = randomUUID();
      const write = () => adjust(f.api, { productId: f.productId, delta: '5', idempotencyKey: key });
      expect((await write()).userErrors).toEqual([]);
      const keys = async () => (await footprint(f.productId)).keys;

      t.clock.advance({ days: 29 });
      await t.app.scheduler.runOnce();
      expect(await keys()).toBe(1);
      expect((await write()).product?.stock.onHand).toBe('5');

      t.clock.advance({ days: 2 });
      await t.app.scheduler.runOnce();
      expect(await keys()).toBe(0);
      expect((await write()).product?.stock.onHand).toBe('10');
      await expectStockConsistent(t.db);

      // A backlog larger than one batch is forgotten in one run all the same; fresh keys stay.
      await t.db.query(
        `INSERT INTO idempotency_key (scope, idempotency_key, kind, request_hash, result_id, created_at)
         SELECT 'producer:backlog', 'k-' || i, 'ADJUST', repeat('a', 64), gen_random_uuid(), $1::timestamptz - interval '40 days'
           FROM generate_series(1, 12000) AS i`,
        [t.clock.now()],
      );
      t.clock.advance({ minutes: 10 });
      // One old key is being written by another transaction as the run reaches it: the run waits
      // for it and, finding that row moved, must still go on to the rest rather than stop early.
      const other = await t.db.connect();
      try {
        await other.query('BEGIN');
        await other.query("UPDATE idempotency_key SET request_hash = repeat('b', 64) WHERE scope = 'producer:backlog' AND idempotency_key = 'k-7'");
        const run = t.app.scheduler.runOnce();
        await waitForLockWait(t.db, 'the pruning to wait for the key being written');
        await other.query('COMMIT');
        await run;
      } finally {
        other.release();
      }
      const { rows } = await t.db.query("SELECT count(*) FILTER (WHERE scope = 'producer:backlog')::int AS backlog, count(*)::int AS total FROM idempotency_key");
      expect(rows[0].backlog).toBe(0);
      expect(rows[0].total).toBeGreaterThan(0);
    });

    it('replays the first result even when the stock has moved on since', async () => {
      const f = await farm('10');
      const key = randomUUID();
      expect((await adjust(f.api, { productId: f.productId, delta: '-4', idempotencyKey: key })).userErrors).toEqual([]);
      expect((await adjust(f.api, { productId: f.productId, delta: '-6' })).userErrors).toEqual([]);
      // Taking 4 more would now be refused; the retry of the first write-off is not a new one.
      const retry = await adjust(f.api, { productId: f.productId, delta: '-4', idempotencyKey: key });
      expect(retry).toEqual({ product: { id: f.productId, stock: { onHand: '0', held: '0', committed: '0', available: '0' } }, userErrors: [] });
      await expectStockConsistent(t.db);
    });

    it('refuses the same key with a different request, and changes nothing', async () => {
      const f = await farm();
      const cold = await addLocation(t.api, f.producerId, 'Cold store', 2);
      const key = randomUUID();
      expect((await adjust(f.api, { productId: f.productId, delta: '40', idempotencyKey: key })).userErrors).toEqual([]);
      const before = await footprint(f.productId);

      const different = [
        { productId: f.productId, delta: '41', idempotencyKey: key },
        { productId: f.productId, delta: '40', locationId: cold, idempotencyKey: key },
        { productId: f.productId, delta: '40', reason: 'recount', idempotencyKey: key },
      ];
      for (const input of different) {
        expect(await adjust(f.api, input)).toEqual({
          product: null,
          userErrors: [{ code: 'IDEMPOTENCY_CONFLICT', field: ['idempotencyKey'], message: 'this idempotency key was already used for a different stock change' }],
        });
      }
      // The producer's keys are one set: a transfer cannot reuse an adjustment's key.
      const moved = await transfer(f.api, { productId: f.productId, fromLocationId: f.main, toLocationId: cold, quantity: '40', idempotencyKey: key });
      expect(moved.userErrors.map((e) => [e.code, e.field])).toEqual([['IDEMPOTENCY_CONFLICT', ['idempotencyKey']]]);
      expect(await footprint(f.productId)).toEqual(before);

      // Keys are scoped to the producer: another producer's key of the same text is its own.
      const other = await farm();
      expect((await adjust(other.api, { productId: other.productId, delta: '3', idempotencyKey: key })).userErrors).toEqual([]);
      expect(await footprint(f.productId)).toEqual(before);
    });

    it('keeps no key for a refused request: its retry is judged again', async () => {
      const f = await farm('10');
      const key = randomUUID();
      const refused = await adjust(f.api, { productId: f.productId, delta: '-15', idempotencyKey: key });
      expect(refused.userErrors.map((e) => e.code)).toEqual(['INSUFFICIENT_STOCK']);
      expect((await footprint(f.productId)).keys).toBe(0);
      expect((await adjust(f.api, { productId: f.productId, delta: '10' })).userErrors).toEqual([]);
      const retried = await adjust(f.api, { productId: f.productId, delta: '-15', idempotencyKey: key });
      expect(retried.userErrors).toEqual([]);
      expect(retried.product!.stock.onHand).toBe('5');
    });

    it('adjusts again on every call without a key, as before', async () => {
      const f = await farm();
      await adjust(f.api, { productId: f.productId, delta: '5' });
      const second = await adjust(f.api, { productId: f.productId, delta: '5', idempotencyKey: null });
      expect(second.product!.stock.onHand).toBe('10');
      expect(await footprint(f.productId)).toMatchObject({ movements: 2, keys: 0 });
    });

    it('refuses an empty or over-long key', async () => {
      const f = await farm();
      for (const idempotencyKey of ['   ', 'k'.repeat(201)]) {
        const refused = await adjust(f.api, { productId: f.productId, delta: '5', idempotencyKey });
        expect(refused.userErrors.map((e) => [e.code, e.field])).toEqual([['INVALID_INPUT', ['idempotencyKey']]]);
      }
      expect((await adjust(f.api, { productId: f.productId, delta: '5', idempotencyKey: ` ${'k'.repeat(200)} ` })).userErrors).toEqual([]);
      expect(await footprint(f.productId)).toMatchObject({ movements: 1, keys: 1 });
    });

    it('adds the stock once when 10 identical requests arrive at once', async () => {
      const f = await farm('5');
      const input = { productId: f.productId, delta: '40', reason: 'harvest', idempotencyKey: randomUUID() };
      const results = await atOnce(f.productId, () => Array.from({ length: 10 }, () => adjust(f.api, input)));
      for (const result of results) {
        expect(result).toEqual({ product: { id: f.productId, stock: { onHand: '45', held: '0', committed: '0', available: '45' } }, userErrors: [] });
      }
      expect(await footprint(f.productId)).toMatchObject({ movements: 2, events: 2, keys: 1 });
      await expectStockConsistent(t.db);
    });

    it('applies one request when one key arrives at once with two different ones, and refuses the other', async () => {
      const f = await farm();
      const key = randomUUID();
      const deltas = Array.from({ length: 10 }, (_, i) => (i % 2 ? '1' : '2'));
      const results = await atOnce(f.productId, () => deltas.map((delta) => adjust(f.api, { productId: f.productId, delta, idempotencyKey: key })));
      const applied = results.filter((r) => r.userErrors.length === 0);
      const refused = results.filter((r) => r.userErrors.length > 0);
      expect(refused.flatMap((r) => r.userErrors.map((e) => e.code))).toEqual(refused.map(() => 'IDEMPOTENCY_CONFLICT'));
      expect(applied).toHaveLength(5);
      expect(refused).toHaveLength(5);
      const onHand = applied[0]!.product!.stock.onHand;
      expect(['1', '2']).toContain(onHand);
      expect(applied.every((r) => r.product!.stock.onHand === onHand)).toBe(true);
      expect(await footprint(f.productId)).toMatchObject({ movements: 1, keys: 1 });
      await expectStockConsistent(t.db);
    });
  });

  describe('transferStock', () => {
    it('returns the first result for a repeated key and moves the stock once', async () => {
      const f = await farm('10');
      const cold = await addLocation(t.api, f.producerId, 'Cold store', 2);
      const input = { productId: f.productId, fromLocationId: f.main, toLocationId: cold, quantity: '4', idempotencyKey: randomUUID() };
      // Ids spelt in upper case name the same product and locations.
      const first = await transfer(f.api, { ...input, productId: f.productId.toUpperCase(), fromLocationId: f.main.toUpperCase() });
      expect(first.userErrors).toEqual([]);
      expect(await stockByLocation(t.api, f.productId)).toMatchObject({ Main: { onHand: '6' }, 'Cold store': { onHand: '4' } });
      const after = await footprint(f.productId);

      expect(await transfer(f.api, input)).toEqual(first);
      expect(await transfer(f.api, { ...input, toLocationId: cold.toUpperCase(), quantity: '4.0', idempotencyKey: ` ${input.idempotencyKey}` })).toEqual(first);
      expect(await footprint(f.productId)).toEqual(after);
      expect(after).toMatchObject({ movements: 3, events: 2, keys: 1 }); // the stock adjusted in, and the transfer's two rows
      await expectStockConsistent(t.db);
    });

    it('replays the first result even when the stock has moved on since', async () => {
      const f = await farm('10');
      const cold = await addLocation(t.api, f.producerId, 'Cold store', 2);
      const input = { productId: f.productId, fromLocationId: f.main, toLocationId: cold, quantity: '10', idempotencyKey: randomUUID() };
      expect((await transfer(f.api, input)).userErrors).toEqual([]);
      // Nothing is left at Main to move: the retry is the same transfer, not a second one.
      expect((await transfer(f.api, input)).userErrors).toEqual([]);
      expect(await stockByLocation(t.api, f.productId)).toMatchObject({ Main: { onHand: '0' }, 'Cold store': { onHand: '10' } });
    });

    it('refuses the same key with a different request, and changes nothing', async () => {
      const f = await farm('10');
      const cold = await addLocation(t.api, f.producerId, 'Cold store', 2);
      const input = { productId: f.productId, fromLocationId: f.main, toLocationId: cold, quantity: '4', idempotencyKey: randomUUID() };
      expect((await transfer(f.api, input)).userErrors).toEqual([]);
      const before = await footprint(f.productId);
      for (const different of [{ ...input, quantity: '3' }, { ...input, fromLocationId: cold, toLocationId: f.main }, { ...input, reason: 'to chill' }]) {
        const refused = await transfer(f.api, different);
        expect(refused.product).toBeNull();
        expect(refused.userErrors.map((e) => [e.code, e.field])).toEqual([['IDEMPOTENCY_CONFLICT', ['idempotencyKey']]]);
      }
      expect((await adjust(f.api, { productId: f.productId, delta: '4', idempotencyKey: input.idempotencyKey })).userErrors.map((e) => e.code)).toEqual(['IDEMPOTENCY_CONFLICT']);
      expect(await footprint(f.productId)).toEqual(before);
    });

    it('moves the stock once when 10 identical requests arrive at once', async () => {
      const f = await farm('10');
      const cold = await addLocation(t.api, f.producerId, 'Cold store', 2);
      const input = { productId: f.productId, fromLocationId: f.main, toLocationId: cold, quantity: '3', idempotencyKey: randomUUID() };
      const results = await atOnce(f.productId, () => Array.from({ length: 10 }, () => transfer(f.api, input)));
      for (const result of results) {
        expect(result.userErrors).toEqual([]);
        expect(result).toEqual(results[0]);
      }
      expect(await stockByLocation(t.api, f.productId)).toMatchObject({ Main: { onHand: '7' }, 'Cold store': { onHand: '3' } });
      expect(await footprint(f.productId)).toMatchObject({ movements: 3, keys: 1 });
      await expectStockConsistent(t.db);
    });
  });
});
