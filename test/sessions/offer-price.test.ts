// updateOfferPrice: a hub corrects an offer's price while its session has not closed; what was
// already checked out keeps its price.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const UPDATE = `mutation ($input: UpdateOfferPriceInput!) { updateOfferPrice(input: $input) {
  offer { id price { amount currency } } userErrors { field message code } } }`;

type Payload = { offer: { id: string; price: { amount: number; currency: string } } | null; userErrors: { field: string[] | null; code: string }[] };

describe("correcting an offer's price", () => {
  let t: TestApp;
  let hub: string;
  let carrots: string;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    hub = await createHub(t.api, 'Hub A');
    carrots = await createProduct(t.api, await createProducer(t.api, 'Jean'), { name: 'Carrots', onHand: '100' });
  });
  afterAll(() => t.stop());

  const update = async (offerId: string, price: Record<string, unknown>, api = t.api) =>
    (await api.data<{ updateOfferPrice: Payload }>(UPDATE, { input: { offerId, price } })).updateOfferPrice;
  const linePrice = async (orderId: string) =>
    (await t.api.data<{ customerOrder: { lines: { unitPrice: { amount: number } }[] } }>('query ($id: ID!) { customerOrder(id: $id) { lines { unitPrice { amount } } } }', { id: orderId }))
      .customerOrder.lines[0]!.unitPrice.amount;

  it('applies to checkouts from then on; lines already checked out keep theirs', async () => {
    const session = await createSession(t.api, hub, { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [carrots], price: 320 });
    const offerId = session.offerFor(carrots);
    const before = await checkout(t.api, session.id, 'ali', [{ offerId, quantity: '1' }]);
    const asHub = await t.as({ role: 'hub', hubId: hub });
    expect(await update(offerId, { amount: 290, currency: 'EUR' }, asHub)).toEqual({ offer: { id: offerId, price: { amount: 290, currency: 'EUR' } }, userErrors: [] });
    const after = await checkout(t.api, session.id, 'bea', [{ offerId, quantity: '1' }]);
    expect([await linePrice(before.customerOrder!.id), await linePrice(after.customerOrder!.id)]).toEqual([320, 290]);
  });

  it('refuses what it cannot do, changing nothing', async () => {
    const session = await createSession(t.api, hub, { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T10:00:00+01:00', products: [carrots], price: 320 });
    const offerId = session.offerFor(carrots);
    const priceNow = async () => (await t.db.query('SELECT price_amount FROM offer WHERE id = $1', [offerId])).rows[0].price_amount;
    expect((await update(offerId, { amount: -1, currency: 'EUR' })).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['price', 'amount'] })]);
    expect((await update(offerId, { amount: 300, currency: 'euro' })).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['price', 'currency'] })]);
    expect((await update(randomUUID(), { amount: 300, currency: 'EUR' })).userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })]);
    const otherHub = await t.as({ role: 'hub', hubId: await createHub(t.api, 'Hub B') });
    expect((await update(offerId, { amount: 300, currency: 'EUR' }, otherHub)).userErrors).toEqual([expect.objectContaining({ code: 'FORBIDDEN' })]);
    t.clock.set('2026-11-23T10:00:01+01:00');
    expect((await update(offerId, { amount: 300, currency: 'EUR' })).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_STATE' })]);
    expect(await priceNow()).toBe(320);
  });
});
