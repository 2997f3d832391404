// A short fill takes from the latest orders first; a changed basket takes the first one's place
// (README, Changing a basket), so it is ranked by its first checkout, not by the change.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { orderMutation } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { buy, closeSessions, createOfferSession, producerOrderOf, receiveLot, SHIP, world } from '../fulfilment/support.js';

describe('a short fill after a customer changed the basket', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it('ranks the changed basket by its first checkout, not by the change', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const berries = await w.product('Strawberries');
    const jam = await w.product('Jam');
    const lot = await receiveLot(t.api, berries, { code: 'S-1', quantity: '10', bestBefore: '2026-11-30' });
    await receiveLot(t.api, jam, { code: 'J-1', quantity: '10', bestBefore: '2026-12-30' });
    const session = await createOfferSession(t.api, w.hub, [{ productId: berries }, { productId: jam }]);
    // Ann checks out 3 kg first, at 09:00.
    const first = await t.api.data<{ checkout: { customerOrder: { id: string }; userErrors: unknown[] } }>(op.CHECKOUT, {
      input: { salesSessionId: session.id, customerRef: 'ann', idempotencyKey: randomUUID(), lines: [{ offerId: session.offerFor(berries), quantity: '3' }] },
    });
    expect(first.checkout.userErrors).toEqual([]);
    // Bob at 09:05.
    t.clock.set('2026-11-23T09:05:00+01:00');
    await buy(t.api, session.id, 'bob', session.offerFor(berries), '3');
    // Ann adds jam at 09:10: same 3 kg of berries, held all along.
    t.clock.set('2026-11-23T09:10:00+01:00');
    const changed = await t.api.data<{ checkout: { customerOrder: { id: string }; userErrors: unknown[] } }>(op.CHECKOUT, {
      input: {
        salesSessionId: session.id, customerRef: 'ann', idempotencyKey: randomUUID(), replacesCustomerOrderId: first.checkout.customerOrder.id,
        lines: [{ offerId: session.offerFor(berries), quantity: '3' }, { offerId: session.offerFor(jam), quantity: '1' }],
      },
    });
    expect(changed.checkout.userErrors).toEqual([]);
    expect((await orderMutation(t.api, op.CONFIRM_PAYMENT, changed.checkout.customerOrder.id)).customerOrder?.status).toBe('CONFIRMED');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    // Only 3 of the 6 kg of berries ship (and the jam).
    const shipped = await t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(SHIP, {
      input: {
        producerOrderId: order, carrier: 'Van', trackingReference: 'V-1',
        lines: [{ productId: berries, quantity: '3', lots: [{ lotId: lot, quantity: '3' }] }, { productId: jam, quantity: '1' }],
      },
    });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    const { rows } = await t.db.query(
      `SELECT o.customer_ref, l.fulfilled_quantity::text FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
        WHERE l.producer_order_id = $1 AND l.product_id = $2 AND o.status = 'CONFIRMED' ORDER BY o.customer_ref`,
      [order, berries],
    );
    // Ann checked her berries out first (09:00), Bob after her (09:05): Bob's are the latest order.
    expect(rows).toEqual([{ customer_ref: 'ann', fulfilled_quantity: '3.000' }, { customer_ref: 'bob', fulfilled_quantity: '0.000' }]);
  });
});
