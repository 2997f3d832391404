// A short fill takes from the latest orders first; a changed basket takes the first one's place
// (README, Changing a basket), so it is ranked by its first checkout, not by the change.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkoutsBehindLockedLevels } from '../support/locked-elsewhere.js';
import * as op from '../support/operations.js';
import { orderMutation } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { adjustAt, buy, closeSessions, createOfferSession, producerOrderOf, receiveLot, SHIP, world } from '../fulfilment/support.js';

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

  it('ranks a changed basket whose first checkout was placed in a batch by that checkout\'s arrival, not the change\'s', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await world(t);
    const currants = await w.product('Redcurrants');
    const jam = await w.product('Redcurrant jam');
    await adjustAt(t.api, currants, w.main, '20');
    await adjustAt(t.api, jam, w.main, '20');
    const session = await createOfferSession(t.api, w.hub, [{ productId: currants }, { productId: jam }]);
    await buy(t.api, session.id, 'opener', session.offerFor(currants), '1'); // the producer order exists now

    // Ann, then Bob, queue behind a checkout held at its COMMIT: the three go as one batch and
    // share one instant; Ann arrived before Bob.
    const { batcher } = t.app.services.checkout;
    const { levels, first, buy: queue } = await checkoutsBehindLockedLevels(t, session, currants);
    const queued = [];
    try {
      for (const [i, customer] of ['ann', 'bob'].entries()) {
        queued.push(queue(customer));
        await waitFor(`${customer} to queue`, async () => (batcher.waiting === i + 1 ? true : undefined));
      }
    } finally {
      await levels.release();
    }
    const [firstInLine, ann, bob] = await Promise.all([first, ...queued]);
    const { rows: placed } = await t.db.query<{ created_at: Date }>('SELECT created_at FROM customer_order WHERE id = ANY($1)', [[ann!.customerOrder!.id, bob!.customerOrder!.id]]);
    expect(new Set(placed.map((o) => o.created_at.getTime())).size).toBe(1);

    // Ann adds jam later: her currant stays held all along.
    t.clock.set('2026-11-23T09:10:00+01:00');
    const changed = await t.api.data<{ checkout: { customerOrder: { id: string }; userErrors: unknown[] } }>(op.CHECKOUT, {
      input: {
        salesSessionId: session.id, customerRef: 'ann', idempotencyKey: randomUUID(), replacesCustomerOrderId: ann!.customerOrder!.id,
        lines: [{ offerId: session.offerFor(currants), quantity: '1' }, { offerId: session.offerFor(jam), quantity: '1' }],
      },
    });
    expect(changed.checkout.userErrors).toEqual([]);
    for (const id of [firstInLine!.customerOrder!.id, bob!.customerOrder!.id, changed.checkout.customerOrder.id]) {
      expect((await orderMutation(t.api, op.CONFIRM_PAYMENT, id)).customerOrder?.status).toBe('CONFIRMED');
    }
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);

    // 4 currants ordered, 3 ship: the last to arrive of the batch loses, and that is Bob.
    const shipped = await t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(SHIP, {
      input: { producerOrderId: order, carrier: 'Van', trackingReference: 'V-2', lines: [{ productId: currants, quantity: '3' }, { productId: jam, quantity: '1' }] },
    });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    const { rows } = await t.db.query(
      `SELECT o.customer_ref, trim_scale(l.fulfilled_quantity)::text AS fulfilled FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
        WHERE l.producer_order_id = $1 AND l.product_id = $2 AND o.status = 'CONFIRMED' ORDER BY o.customer_ref`,
      [order, currants],
    );
    expect(rows).toEqual([
      { customer_ref: 'ann', fulfilled: '1' },
      { customer_ref: 'bob', fulfilled: '0' },
      { customer_ref: 'first in line', fulfilled: '1' },
      { customer_ref: 'opener', fulfilled: '1' },
    ]);
  });
});
