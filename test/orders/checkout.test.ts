import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { checkout, createHub, createSession, sessionView, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';

describe('checkout', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof openSessionWorld>>;

  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  beforeEach(async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    w = await openSessionWorld(t.api);
  });
  afterAll(() => t.stop());

  it('holds stock and creates one HELD producer order per producer in the basket', async () => {
    const result = await checkout(t.api, w.session.id, 'ali@example.org', [
      { offerId: w.session.offerFor(w.carrots), quantity: '2.5' },
      { offerId: w.session.offerFor(w.eggs), quantity: '12' },
      { offerId: w.session.offerFor(w.bread), quantity: '1' },
    ]);
    expect(result.userErrors).toEqual([]);
    expect(result.customerOrder).toMatchObject({
      status: 'PENDING_PAYMENT',
      customerRef: 'ali@example.org',
      holdExpiresAt: '2026-11-23T08:15:00Z', // 15 minutes, the default hold
      salesSession: { id: w.session.id },
    });
    expect(result.customerOrder!.lines).toHaveLength(3);

    expect(await stockOf(t.api, w.carrots)).toEqual({ onHand: '10', held: '2.5', committed: '0', available: '7.5' });
    expect(await stockOf(t.api, w.eggs)).toEqual({ onHand: '60', held: '12', committed: '0', available: '48' });

    const view = await sessionView(t.api, w.session.id);
    expect(view.producerOrders).toHaveLength(2);
    const jeans = view.producerOrders.find((o) => o.producer.id === w.jean)!;
    const maries = view.producerOrders.find((o) => o.producer.id === w.marie)!;
    expect(jeans).toMatchObject({ orderState: 'HELD', fulfilmentState: 'HELD', hub: { id: w.hub }, lines: [{ product: { id: w.carrots }, quantity: '2.5' }] });
    expect(maries.lines).toHaveLength(2);
    expect(view.offers.find((o) => o.product.id === w.carrots)!.available).toBe('7.5');
  });

  it("extends the producer's order for the session with each further checkout", async () => {
    await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
    await checkout(t.api, w.session.id, 'paul', [{ offerId: w.session.offerFor(w.carrots), quantity: '0.75' }]);
    const view = await sessionView(t.api, w.session.id);
    expect(view.producerOrders).toHaveLength(1);
    expect(view.producerOrders[0]!.lines).toEqual([{ product: { id: w.carrots }, quantity: '1.75' }]);
  });

  it('merges basket lines naming the same offer', async () => {
    const result = await checkout(t.api, w.session.id, 'ali', [
      { offerId: w.session.offerFor(w.carrots), quantity: '1' },
      { offerId: w.session.offerFor(w.carrots), quantity: '2' },
    ]);
    expect(result.customerOrder!.lines).toEqual([expect.objectContaining({ quantity: '3' })]);
    expect((await stockOf(t.api, w.carrots)).held).toBe('3');
  });

  it('answers each of several mutations in one document from what the database holds after it', async () => {
    const offerId = w.session.offerFor(w.carrots);
    const basket = (customerRef: string, quantity: string) => ({ salesSessionId: w.session.id, customerRef, idempotencyKey: randomUUID(), lines: [{ offerId, quantity }] });
    type Answer = Record<'a' | 'b', { customerOrder: { lines: { offer: { available: string } }[] } }>;
    const both = await t.api.data<Answer>(`mutation ($a: CheckoutInput!, $b: CheckoutInput!) {
      a: checkout(input: $a) { customerOrder { lines { offer { available } } } }
      b: checkout(input: $b) { customerOrder { lines { offer { available } } } } }`, { a: basket('ali', '2'), b: basket('bea', '3') });
    // 10 kg of carrots: 8 left after the first, 5 after the second.
    expect([both.a, both.b].map((r) => r.customerOrder.lines[0]!.offer.available)).toEqual(['8', '5']);

    type Adjusted = Record<'a' | 'b', { product: { stock: { onHand: string } } }>;
    const adjusted = await t.api.data<Adjusted>(`mutation ($a: AdjustStockInput!, $b: AdjustStockInput!) {
      a: adjustStock(input: $a) { product { stock { onHand } } }
      b: adjustStock(input: $b) { product { stock { onHand } } } }`, { a: { productId: w.carrots, delta: '5' }, b: { productId: w.carrots, delta: '5' } });
    expect([adjusted.a, adjusted.b].map((r) => r.product.stock.onHand)).toEqual(['15', '20']);
  });

  it('holds nothing at all when any line is short, and names every short line', async () => {
    const result = await checkout(t.api, w.session.id, 'michael', [
      { offerId: w.session.offerFor(w.carrots), quantity: '3' },
      { offerId: w.session.offerFor(w.bread), quantity: '6' },
      { offerId: w.session.offerFor(w.eggs), quantity: '61' },
    ]);
    expect(result.customerOrder).toBeNull();
    expect(result.userErrors).toEqual([
      { code: 'INSUFFICIENT_STOCK', field: ['lines', '1', 'quantity'], message: 'only 5 each of "Bread" is available, 6 was asked' },
      { code: 'INSUFFICIENT_STOCK', field: ['lines', '2', 'quantity'], message: 'only 60 each of "Eggs" is available, 61 was asked' },
    ]);
    expect((await stockOf(t.api, w.carrots)).held).toBe('0');
    const view = await sessionView(t.api, w.session.id);
    expect(view.producerOrders).toEqual([]);
    await expectStockConsistent(t.db);
  });

  describe('idempotency', () => {
    it('returns the first order for a repeated key and holds nothing more', async () => {
      const key = randomUUID();
      const lines = [{ offerId: w.session.offerFor(w.carrots), quantity: '2' }];
      const first = await checkout(t.api, w.session.id, 'ali', lines, key);
      const again = await checkout(t.api, w.session.id, 'ali', lines, key);
      expect(again.userErrors).toEqual([]);
      expect(again.customerOrder!.id).toBe(first.customerOrder!.id);
      expect((await stockOf(t.api, w.carrots)).held).toBe('2');
    });

    it('takes a key and ids however they are spelt: surrounding spaces and upper-case ids name the same order', async () => {
      const key = 'x'.repeat(199);
      const offer = w.session.offerFor(w.eggs);
      const first = await checkout(t.api, w.session.id.toUpperCase(), 'ali', [{ offerId: offer.toUpperCase(), quantity: '2' }], `${key}   `);
      expect(first.userErrors).toEqual([]);
      const again = await checkout(t.api, w.session.id, 'ali', [{ offerId: offer, quantity: '2' }], key);
      expect(again.userErrors).toEqual([]);
      expect(again.customerOrder!.id).toBe(first.customerOrder!.id);
      expect((await stockOf(t.api, w.eggs)).held).toBe('2');
    });

    it('refuses the same key with a different basket', async () => {
      const key = randomUUID();
      await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '2' }], key);
      const other = await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '3' }], key);
      expect(other.customerOrder).toBeNull();
      expect(other.userErrors).toEqual([expect.objectContaining({ code: 'IDEMPOTENCY_CONFLICT', field: ['idempotencyKey'] })]);
      expect((await stockOf(t.api, w.carrots)).held).toBe('2');
    });

    it('makes one order when the same key arrives many times at once', async () => {
      const key = randomUUID();
      const lines = [{ offerId: w.session.offerFor(w.eggs), quantity: '6' }];
      const results = await Promise.all(Array.from({ length: 12 }, () => checkout(t.api, w.session.id, 'ali', lines, key)));
      expect(new Set(results.map((r) => r.customerOrder?.id)).size).toBe(1);
      expect(results.every((r) => r.userErrors.length === 0)).toBe(true);
      expect((await stockOf(t.api, w.eggs)).held).toBe('6');
    });

    it('makes one order when one key arrives at once with two different baskets, and refuses the rest', async () => {
      const key = randomUUID();
      const carrots = [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }];
      const eggs = [{ offerId: w.session.offerFor(w.eggs), quantity: '1' }];
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => checkout(t.api, w.session.id, 'ali', i % 2 ? carrots : eggs, key)));
      const placed = results.filter((r) => r.customerOrder);
      const refused = results.filter((r) => !r.customerOrder);
      expect(new Set(placed.map((r) => r.customerOrder!.id)).size).toBe(1);
      expect(refused.flatMap((r) => r.userErrors.map((e) => e.code))).toEqual(refused.map(() => 'IDEMPOTENCY_CONFLICT'));
      expect(refused.length).toBeGreaterThanOrEqual(6);
      // Only the winning basket's producer has an order: a refused checkout leaves nothing behind.
      const view = await sessionView(t.api, w.session.id);
      expect(view.producerOrders).toHaveLength(1);
      expect(Number((await stockOf(t.api, w.carrots)).held) + Number((await stockOf(t.api, w.eggs)).held)).toBe(1);
      await expectStockConsistent(t.db);
    });

    it('replays the first result even after the session has closed', async () => {
      const key = randomUUID();
      const lines = [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }];
      const first = await checkout(t.api, w.session.id, 'ali', lines, key);
      t.clock.set('2026-11-23T20:30:00+01:00');
      const again = await checkout(t.api, w.session.id, 'ali', lines, key);
      expect(again.customerOrder?.id).toBe(first.customerOrder!.id);
    });
  });

  describe('bad input changes nothing', () => {
    async function counts() {
      const { rows } = await t.db.query(
        'SELECT (SELECT count(*) FROM customer_order)::int AS orders, (SELECT count(*) FROM stock_movement)::int AS movements, (SELECT count(*) FROM producer_order)::int AS producer_orders',
      );
      return rows[0];
    }

    const cases: [string, (w: Awaited<ReturnType<typeof openSessionWorld>>) => Record<string, unknown>, { code: string; field: string[] }[]][] = [
      ['a zero quantity', (w) => ({ lines: [{ offerId: w.session.offerFor(w.carrots), quantity: '0' }] }), [{ code: 'INVALID_INPUT', field: ['lines', '0', 'quantity'] }]],
      ['a negative quantity', (w) => ({ lines: [{ offerId: w.session.offerFor(w.carrots), quantity: '-1' }] }), [{ code: 'INVALID_INPUT', field: ['lines', '0', 'quantity'] }]],
      ['a non-numeric quantity', (w) => ({ lines: [{ offerId: w.session.offerFor(w.carrots), quantity: 'two' }] }), [{ code: 'INVALID_INPUT', field: ['lines', '0', 'quantity'] }]],
      ['an absurdly precise quantity', (w) => ({ lines: [{ offerId: w.session.offerFor(w.carrots), quantity: '1.0000001' }] }), [{ code: 'INVALID_INPUT', field: ['lines', '0', 'quantity'] }]],
      ['an absurdly large quantity', (w) => ({ lines: [{ offerId: w.session.offerFor(w.carrots), quantity: '1e400' }] }), [{ code: 'INVALID_INPUT', field: ['lines', '0', 'quantity'] }]],
      ['an unknown offer', () => ({ lines: [{ offerId: randomUUID(), quantity: '1' }] }), [{ code: 'NOT_FOUND', field: ['lines', '0', 'offerId'] }]],
      ['a malformed offer id', () => ({ lines: [{ offerId: 'carrots', quantity: '1' }] }), [{ code: 'NOT_FOUND', field: ['lines', '0', 'offerId'] }]],
      ['an empty basket', () => ({ lines: [] }), [{ code: 'INVALID_INPUT', field: ['lines'] }]],
      ['an unknown session', () => ({ salesSessionId: randomUUID() }), [{ code: 'NOT_FOUND', field: ['salesSessionId'] }]],
      ['an empty customer reference', () => ({ customerRef: '  ' }), [{ code: 'INVALID_INPUT', field: ['customerRef'] }]],
      ['several problems at once', (w) => ({ customerRef: '', lines: [{ offerId: w.session.offerFor(w.carrots), quantity: '0' }, { offerId: 'x', quantity: '1' }] }), [
        { code: 'INVALID_INPUT', field: ['customerRef'] },
        { code: 'INVALID_INPUT', field: ['lines', '0', 'quantity'] },
        { code: 'NOT_FOUND', field: ['lines', '1', 'offerId'] },
      ]],
    ];

    it.each(cases)('refuses %s', async (_name, change, expected) => {
      const before = await counts();
      const input = {
        salesSessionId: w.session.id,
        customerRef: 'ali',
        idempotencyKey: randomUUID(),
        lines: [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }],
        ...change(w),
      };
      const { checkout: payload } = await t.api.data<{ checkout: { customerOrder: unknown; userErrors: { code: string; field: string[]; message: string }[] } }>(op.CHECKOUT, { input });
      expect(payload.customerOrder).toBeNull();
      expect(payload.userErrors.map(({ code, field }) => ({ code, field }))).toEqual(expected);
      for (const error of payload.userErrors) expect(error.message.length).toBeGreaterThan(5);
      expect(await counts()).toEqual(before);
    });

    it('refuses an offer of another session', async () => {
      const other = await createSession(t.api, await createHub(t.api, 'Hub B'), {
        opensAt: '2026-11-23T07:00:00+01:00',
        closesAt: '2026-11-23T20:00:00+01:00',
        products: [w.carrots],
      });
      const before = await counts();
      const result = await checkout(t.api, w.session.id, 'ali', [{ offerId: other.offerFor(w.carrots), quantity: '1' }]);
      expect(result.userErrors).toEqual([{ code: 'INVALID_INPUT', field: ['lines', '0', 'offerId'], message: 'the offer belongs to another sales session' }]);
      expect(await counts()).toEqual(before);
    });

    it('refuses a session that has not opened or has closed', async () => {
      const lines = [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }];
      t.clock.set('2026-11-23T06:59:00+01:00');
      const early = await checkout(t.api, w.session.id, 'ali', lines);
      // The opening as the session shows it, in its own time zone.
      expect(early.userErrors).toEqual([{ code: 'SESSION_NOT_OPEN', field: ['salesSessionId'], message: 'the sales session opens at 2026-11-23T07:00:00+01:00' }]);
      t.clock.set('2026-11-23T20:00:00+01:00');
      const late = await checkout(t.api, w.session.id, 'ali', lines);
      expect(late.userErrors).toEqual([{ code: 'SESSION_NOT_OPEN', field: ['salesSessionId'], message: 'the sales session is closed' }]);
      expect((await stockOf(t.api, w.carrots)).held).toBe('0');
    });

    it('answers a float quantity with a typed GraphQL error, not a 500', async () => {
      const response = await t.api.request(op.CHECKOUT, {
        input: { salesSessionId: w.session.id, customerRef: 'ali', idempotencyKey: 'k', lines: [{ offerId: w.session.offerFor(w.carrots), quantity: 2.5 }] },
      });
      expect(response.status).toBe(400);
      expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(response)).not.toContain('stacktrace');
    });
  });
});
