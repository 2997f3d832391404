// What ships is shared out among the customers (the short fill), who bought whole sellable
// steps: a shipment must be a whole number of them too, or all that was ordered.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { adjustAt, buy, closeSessions, createOfferSession, producerOrderOf, SHIP, world } from './support.js';

describe('shipped quantities and the sellable step', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it('refuses to ship a fraction of a product sold in whole steps (no customer gets 1.5 lambs)', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const lamb = await w.product('Whole lamb', 'each');
    const { updateProduct } = await t.api.data<{ updateProduct: { userErrors: unknown[] } }>(
      'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { field message code } } }',
      { input: { productId: lamb, sellableStep: '1' } },
    );
    expect(updateProduct.userErrors).toEqual([]);
    await adjustAt(t.api, lamb, w.main, '5');
    const session = await createOfferSession(t.api, w.hub, [{ productId: lamb }]);
    await buy(t.api, session.id, 'early', session.offerFor(lamb), '3');
    t.clock.set('2026-11-23T10:00:00+01:00');
    await buy(t.api, session.id, 'late', session.offerFor(lamb), '2');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);

    const shipped = await t.api.data<{ shipProducerOrder: { producerOrder: { fulfilmentState: string } | null; userErrors: { field: string[]; code: string }[] } }>(SHIP, {
      input: { producerOrderId: order, carrier: 'Van', trackingReference: 'V-1', lines: [{ productId: lamb, quantity: '4.5' }] },
    });
    const { rows } = await t.db.query(
      `SELECT o.customer_ref, l.fulfilled_quantity::text AS fulfilled FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
        WHERE l.producer_order_id = $1 ORDER BY o.customer_ref`,
      [order],
    );
    // Refused, nothing shipped.
    expect({ userErrors: shipped.shipProducerOrder.userErrors, lines: rows }).toEqual({
      userErrors: [{ code: 'INVALID_INPUT', field: ['lines', '0', 'quantity'], message: '"Whole lamb" sells in steps of 1 each: 4.5 is not a whole number of them' }],
      lines: [{ customer_ref: 'early', fulfilled: null }, { customer_ref: 'late', fulfilled: null }],
    });
    expect(shipped.shipProducerOrder.producerOrder).toBeNull();

    // Four whole lambs: the latest order loses one, as the short fill shares it out.
    const four = await t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(SHIP, {
      input: { producerOrderId: order, carrier: 'Van', trackingReference: 'V-1', lines: [{ productId: lamb, quantity: '4' }] },
    });
    expect(four.shipProducerOrder.userErrors).toEqual([]);
    const after = await t.db.query(
      `SELECT o.customer_ref, l.fulfilled_quantity::text AS fulfilled FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
        WHERE l.producer_order_id = $1 ORDER BY o.customer_ref`,
      [order],
    );
    expect(after.rows).toEqual([{ customer_ref: 'early', fulfilled: '3.000' }, { customer_ref: 'late', fulfilled: '1.000' }]);
  });
});
