// What a basket costs: each line rounded half up to a whole minor unit, then summed, exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const ORDER = `query ($id: ID!) { customerOrder(id: $id) {
  total { amount currency } lines { quantity unitPrice { amount } lineTotal { amount currency } fulfilledTotal { amount } } } }`;

describe('customer order totals', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  async function basket(price: number, lines: { name: string; quantity: string }[]) {
    const farm = await createProducer(t.api, 'Farm');
    const products = await Promise.all(lines.map((l) => createProduct(t.api, farm, { name: l.name, onHand: '1000' })));
    const session = await createSession(t.api, await createHub(t.api, 'Hub'), {
      opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products, price,
    });
    const placed = await checkout(t.api, session.id, 'ali', lines.map((l, i) => ({ offerId: session.offerFor(products[i]!), quantity: l.quantity })));
    expect(placed.userErrors).toEqual([]);
    return (await t.api.data<{ customerOrder: { total: unknown; lines: { quantity: string; lineTotal: unknown; fulfilledTotal: unknown }[] } }>(ORDER, { id: placed.customerOrder!.id })).customerOrder;
  }

  it('rounds each line half up to a whole cent, then adds them up', async () => {
    // 2.5 × 319 = 797.5 → 798; 0.333 × 319 = 106.227 → 106; 1.002 × 319 = 319.638 → 320.
    const order = await basket(319, [{ name: 'Carrots', quantity: '2.5' }, { name: 'Leeks', quantity: '0.333' }, { name: 'Beets', quantity: '1.002' }]);
    // In the order the session lists its offers.
    expect(order.lines.map((l) => [l.quantity, l.lineTotal, l.fulfilledTotal])).toEqual([
      ['2.5', { amount: 798, currency: 'EUR' }, null],
      ['0.333', { amount: 106, currency: 'EUR' }, null],
      ['1.002', { amount: 320, currency: 'EUR' }, null],
    ]);
    expect(order.total).toEqual({ amount: 798 + 106 + 320, currency: 'EUR' });
  });

  it('gives no amount past what Money holds, rather than a wrong one', async () => {
    // 999 × 100,000,000 cents is past GraphQL's Int.
    const order = await basket(100_000_000, [{ name: 'Truffles', quantity: '999' }]);
    expect(order.lines[0]!.lineTotal).toBeNull();
    expect(order.total).toBeNull();
  });
});
