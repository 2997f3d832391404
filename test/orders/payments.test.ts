import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { checkout, createHub, createSession, orderMutation, sessionView, stockOf } from '../support/scenarios.js';
import { lockedElsewhere } from '../support/locked-elsewhere.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitForLockWait } from '../support/wait.js';
import { openSessionWorld } from '../support/world.js';

describe('after checkout: payment, failure, cancellation and expiry', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof openSessionWorld>>;
  let orderId: string;

  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  beforeEach(async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    w = await openSessionWorld(t.api);
    const result = await checkout(t.api, w.session.id, 'ali', [
      { offerId: w.session.offerFor(w.carrots), quantity: '4' },
      { offerId: w.session.offerFor(w.eggs), quantity: '6' },
    ]);
    orderId = result.customerOrder!.id;
  });
  afterAll(() => t.stop());

  async function producerOrderLines() {
    const view = await sessionView(t.api, w.session.id);
    return view.producerOrders.flatMap((o) => o.lines.map((l) => [l.product.id, l.quantity]));
  }

  it("tells a customer no more of another customer's order when cancelling it than when reading it: not found", async () => {
    const bob = await t.as({ role: 'customer', hubId: w.hub, customerRef: 'bob' });
    expect((await bob.data<{ customerOrder: unknown }>(op.CUSTOMER_ORDER_QUERY, { id: orderId })).customerOrder).toBeNull();
    const cancel = async (id: string) =>
      (await bob.data<{ cancelCustomerOrder: { userErrors: { code: string; field: string[] }[] } }>(op.CANCEL_CUSTOMER_ORDER, { input: { customerOrderId: id } }))
        .cancelCustomerOrder.userErrors.map((e) => [e.code, e.field]);
    expect(await cancel(orderId)).toEqual([['NOT_FOUND', ['customerOrderId']]]);
    expect(await cancel(orderId)).toEqual(await cancel(randomUUID()));
    // Ali's order is untouched.
    expect((await t.api.data<{ customerOrder: { status: string } }>(op.CUSTOMER_ORDER_QUERY, { id: orderId })).customerOrder.status).toBe('PENDING_PAYMENT');
  });

  it("locks no order of another hub or customer that it refuses: a payment result, extension or cancel answers at once", async () => {
    const otherHub = await t.as({ role: 'hub', hubId: await createHub(t.api, 'Elsewhere') });
    const bob = await t.as({ role: 'customer', hubId: w.hub, customerRef: 'bob' });
    const gate = await lockedElsewhere(t.db, 'SELECT 1 FROM customer_order WHERE id = $1 FOR UPDATE', [orderId]);
    try {
      // Answered while the order stays locked: none of them waited for it.
      for (const mutation of [op.FAIL_PAYMENT, op.EXTEND_HOLD, op.CANCEL_CUSTOMER_ORDER]) {
        expect((await orderMutation(otherHub, mutation, orderId)).userErrors).toMatchObject([{ code: 'FORBIDDEN', field: ['customerOrderId'] }]);
      }
      expect((await orderMutation(bob, op.CANCEL_CUSTOMER_ORDER, orderId)).userErrors).toMatchObject([{ code: 'NOT_FOUND', field: ['customerOrderId'] }]);
    } finally {
      await gate.release();
    }
    expect((await t.api.data<{ customerOrder: { status: string } }>(op.CUSTOMER_ORDER_QUERY, { id: orderId })).customerOrder.status).toBe('PENDING_PAYMENT');
  });

  it('confirms payment without touching the producer orders', async () => {
    const before = await producerOrderLines();
    const paid = await orderMutation(t.api, op.CONFIRM_PAYMENT, orderId);
    expect(paid.userErrors).toEqual([]);
    expect(paid.customerOrder).toMatchObject({ status: 'CONFIRMED', holdExpiresAt: null });
    expect(await producerOrderLines()).toEqual(before);
    expect((await stockOf(t.api, w.carrots)).held).toBe('4');

    const again = await orderMutation(t.api, op.CONFIRM_PAYMENT, orderId);
    expect(again).toMatchObject({ userErrors: [], customerOrder: { status: 'CONFIRMED' } });
  });

  it('keeps when the payment was confirmed, through a repeat and a later cancel, so the hub knows to refund', async () => {
    const paidAt = async () => (await t.api.data<{ customerOrder: { status: string; paidAt: string | null } }>(
      'query ($id: ID!) { customerOrder(id: $id) { status paidAt } }', { id: orderId })).customerOrder;
    expect(await paidAt()).toEqual({ status: 'PENDING_PAYMENT', paidAt: null });
    t.clock.set('2026-11-23T09:05:00+01:00');
    await orderMutation(t.api, op.CONFIRM_PAYMENT, orderId);
    t.clock.set('2026-11-23T09:06:00+01:00');
    await orderMutation(t.api, op.CONFIRM_PAYMENT, orderId);
    expect(await paidAt()).toEqual({ status: 'CONFIRMED', paidAt: '2026-11-23T08:05:00Z' });
    await orderMutation(t.api, op.CANCEL_CUSTOMER_ORDER, orderId);
    expect(await paidAt()).toEqual({ status: 'CANCELLED', paidAt: '2026-11-23T08:05:00Z' });
    // A failed payment was never paid.
    const other = await checkout(t.api, w.session.id, 'bea', [{ offerId: w.session.offerFor(w.eggs), quantity: '1' }]);
    const failed = await orderMutation(t.api, op.FAIL_PAYMENT, other.customerOrder!.id);
    expect(failed.customerOrder).toMatchObject({ status: 'PAYMENT_FAILED' });
    const { customerOrder } = await t.api.data<{ customerOrder: { paidAt: string | null } }>('query ($id: ID!) { customerOrder(id: $id) { paidAt } }', { id: other.customerOrder!.id });
    expect(customerOrder.paidAt).toBeNull();
  });

  it('releases the stock at once when payment fails, and only once', async () => {
    const failed = await orderMutation(t.api, op.FAIL_PAYMENT, orderId);
    expect(failed.customerOrder).toMatchObject({ status: 'PAYMENT_FAILED', holdExpiresAt: null });
    expect(await stockOf(t.api, w.carrots)).toEqual({ onHand: '10', held: '0', committed: '0', available: '10' });
    expect(await producerOrderLines()).toEqual([]);
    const view = await sessionView(t.api, w.session.id);
    expect(view.offers.find((o) => o.product.id === w.eggs)!.available).toBe('60');

    const again = await orderMutation(t.api, op.FAIL_PAYMENT, orderId);
    expect(again).toMatchObject({ userErrors: [], customerOrder: { status: 'PAYMENT_FAILED' } });
    expect((await stockOf(t.api, w.carrots)).available).toBe('10');
    await expectStockConsistent(t.db);
  });

  it('settles a success and a failure for the same order arriving at once: one wins, the other is refused', async () => {
    const answers = await Promise.all([
      ...Array.from({ length: 4 }, () => orderMutation(t.api, op.CONFIRM_PAYMENT, orderId)),
      ...Array.from({ length: 4 }, () => orderMutation(t.api, op.FAIL_PAYMENT, orderId)),
    ]);
    const final = (await t.db.query('SELECT status FROM customer_order WHERE id = $1', [orderId])).rows[0].status as string;
    expect(['CONFIRMED', 'PAYMENT_FAILED']).toContain(final);
    // Those that asked for the final state got it; the others were told it was too late.
    for (const [i, answer] of answers.entries()) {
      const wanted = i < 4 ? 'CONFIRMED' : 'PAYMENT_FAILED';
      if (wanted === final) expect(answer).toMatchObject({ userErrors: [], customerOrder: { status: final } });
      else expect(answer.userErrors.map((e) => e.code)).toEqual(['INVALID_STATE']);
    }
    expect((await stockOf(t.api, w.carrots)).held).toBe(final === 'CONFIRMED' ? '4' : '0');
    await expectStockConsistent(t.db);
  });

  it('refuses to confirm a failed payment (INVALID_STATE)', async () => {
    await orderMutation(t.api, op.FAIL_PAYMENT, orderId);
    const confirmed = await orderMutation(t.api, op.CONFIRM_PAYMENT, orderId);
    expect(confirmed.customerOrder).toBeNull();
    expect(confirmed.userErrors).toEqual([
      { code: 'INVALID_STATE', field: ['customerOrderId'], message: 'cannot confirm payment for an order that is PAYMENT_FAILED' },
    ]);
  });

  it('refuses to fail a confirmed payment (INVALID_STATE)', async () => {
    await orderMutation(t.api, op.CONFIRM_PAYMENT, orderId);
    const failed = await orderMutation(t.api, op.FAIL_PAYMENT, orderId);
    expect(failed.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_STATE' })]);
    expect((await stockOf(t.api, w.carrots)).held).toBe('4');
  });

  it('cancels an unpaid or a paid order while the session is open, releasing its stock', async () => {
    const cancelled = await orderMutation(t.api, op.CANCEL_CUSTOMER_ORDER, orderId);
    expect(cancelled.customerOrder?.status).toBe('CANCELLED');
    expect((await stockOf(t.api, w.carrots)).held).toBe('0');
    expect((await orderMutation(t.api, op.CANCEL_CUSTOMER_ORDER, orderId)).userErrors).toEqual([]);

    const paid = await checkout(t.api, w.session.id, 'paul', [{ offerId: w.session.offerFor(w.carrots), quantity: '3' }]);
    await orderMutation(t.api, op.CONFIRM_PAYMENT, paid.customerOrder!.id);
    const cancelledPaid = await orderMutation(t.api, op.CANCEL_CUSTOMER_ORDER, paid.customerOrder!.id);
    expect(cancelledPaid.customerOrder?.status).toBe('CANCELLED');
    expect((await stockOf(t.api, w.carrots)).held).toBe('0');
    await expectStockConsistent(t.db);
  });

  it('refuses to cancel once the session has closed', async () => {
    await orderMutation(t.api, op.CONFIRM_PAYMENT, orderId);
    t.clock.set('2026-11-23T20:00:00+01:00');
    const cancelled = await orderMutation(t.api, op.CANCEL_CUSTOMER_ORDER, orderId);
    expect(cancelled.userErrors).toEqual([expect.objectContaining({ code: 'SESSION_NOT_OPEN', field: ['customerOrderId'] })]);
    expect((await stockOf(t.api, w.carrots)).held).toBe('4');
  });

  it('expires an unpaid hold when its time runs out, releasing the stock', async () => {
    t.clock.set('2026-11-23T09:14:59+01:00');
    await t.app.scheduler.runOnce();
    expect((await stockOf(t.api, w.carrots)).held).toBe('4');

    t.clock.set('2026-11-23T09:15:00+01:00');
    await t.app.scheduler.runOnce();
    const { customerOrder } = await t.api.data<{ customerOrder: { status: string; holdExpiresAt: string | null } }>(op.CUSTOMER_ORDER_QUERY, { id: orderId });
    expect(customerOrder).toEqual(expect.objectContaining({ status: 'EXPIRED', holdExpiresAt: null }));
    expect((await stockOf(t.api, w.carrots)).available).toBe('10');

    const late = await orderMutation(t.api, op.CONFIRM_PAYMENT, orderId);
    expect(late.userErrors).toEqual([expect.objectContaining({ code: 'HOLD_EXPIRED' })]);
    expect((await orderMutation(t.api, op.FAIL_PAYMENT, orderId)).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_STATE' })]);
    await expectStockConsistent(t.db);
  });

  it("sells a lapsed hold's stock to the next customer who needs it, at another hub too, before the scheduler has run", async () => {
    // Ali holds 4 of the 10 carrots until 09:15; at 09:16 no tick has expired the hold yet.
    t.clock.set('2026-11-23T09:16:00+01:00');
    const otherHub = await createHub(t.api, 'Hub B');
    const elsewhere = await createSession(t.api, otherHub, { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [w.carrots] });
    const bea = await checkout(t.api, elsewhere.id, 'bea', [{ offerId: elsewhere.offerFor(w.carrots), quantity: '10' }]);
    expect(bea.userErrors).toEqual([]);
    const { customerOrder } = await t.api.data<{ customerOrder: { status: string } }>(op.CUSTOMER_ORDER_QUERY, { id: orderId });
    expect(customerOrder.status).toBe('EXPIRED');
    expect(await stockOf(t.api, w.carrots)).toEqual({ onHand: '10', held: '10', committed: '0', available: '0' });
    // Nothing lapsed to free: the next basket is refused as before.
    const cal = await checkout(t.api, elsewhere.id, 'cal', [{ offerId: elsewhere.offerFor(w.carrots), quantity: '1' }]);
    expect(cal.userErrors).toEqual([expect.objectContaining({ code: 'INSUFFICIENT_STOCK' })]);
    await expectStockConsistent(t.db);
  });

  it('sells a lapsed hold\'s stock to each of several customers arriving together, whichever of them expires it', async () => {
    t.clock.set('2026-11-23T09:16:00+01:00');
    // Ali's 4 carrots lapsed at 09:15: 6 are free, 4 more once her hold is expired. Ten customers
    // of one carrot each, at once: every one of them fits.
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      checkout(t.api, w.session.id, `c${i}`, [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }])));
    expect(results.flatMap((r) => r.userErrors)).toEqual([]);
    expect(await stockOf(t.api, w.carrots)).toEqual({ onHand: '10', held: '10', committed: '0', available: '0' });
    await expectStockConsistent(t.db);
  });

  it('tries a short basket again when the scheduler expired the lapsed hold between its refusal and its own expiry pass', async () => {
    t.clock.set('2026-11-23T09:16:00+01:00');
    const service = t.app.services.customerOrders;
    const expireLapsedHoldsOf = service.expireLapsedHoldsOf.bind(service);
    service.expireLapsedHoldsOf = async (ctx, offerIds) => {
      await t.app.scheduler.runOnce();
      return expireLapsedHoldsOf(ctx, offerIds);
    };
    try {
      const bea = await checkout(t.api, w.session.id, 'bea', [{ offerId: w.session.offerFor(w.carrots), quantity: '10' }]);
      expect(bea.userErrors).toEqual([]);
    } finally {
      service.expireLapsedHoldsOf = expireLapsedHoldsOf;
    }
  });

  it('answers a short basket INSUFFICIENT_STOCK, not an internal error, when expiring a lapsed hold fails', async () => {
    t.clock.set('2026-11-23T09:16:00+01:00');
    // Ali's order is busy (her hub's payment result, say) while Bea's basket is refused; the
    // connection Bea's expiry pass waits on is lost (a failover).
    const busy = await lockedElsewhere(t.db, 'SELECT 1 FROM customer_order WHERE id = $1 FOR UPDATE', [orderId]);
    try {
      const bea = checkout(t.api, w.session.id, 'bea', [{ offerId: w.session.offerFor(w.carrots), quantity: '10' }]);
      await waitForLockWait(t.db, "Bea's expiry pass to wait for Ali's order").then(() => t.db.query(
        `SELECT pg_terminate_backend(a.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE NOT l.granted AND a.datname = current_database() AND a.pid <> pg_backend_pid()`), () => undefined);
      expect((await bea).userErrors).toEqual([expect.objectContaining({ code: 'INSUFFICIENT_STOCK' })]);
    } finally {
      await busy.release();
    }
  });

  it('refuses a payment that arrives after the hold lapsed, even before the scheduler has run', async () => {
    t.clock.set('2026-11-23T09:20:00+01:00');
    const late = await orderMutation(t.api, op.CONFIRM_PAYMENT, orderId);
    expect(late.userErrors).toEqual([expect.objectContaining({ code: 'HOLD_EXPIRED', field: ['customerOrderId'] })]);
    const { customerOrder } = await t.api.data<{ customerOrder: { status: string } }>(op.CUSTOMER_ORDER_QUERY, { id: orderId });
    expect(customerOrder.status).toBe('EXPIRED');
    expect((await stockOf(t.api, w.carrots)).held).toBe('0');
    await expectStockConsistent(t.db);
  });

  for (const [name, mutation] of [['a failed payment', op.FAIL_PAYMENT], ['a cancellation', op.CANCEL_CUSTOMER_ORDER]] as const) {
    it(`answers ${name} after the hold lapsed the same before and after the scheduler has run`, async () => {
      t.clock.set('2026-11-23T09:20:00+01:00');
      const before = await orderMutation(t.api, mutation, orderId);
      const { customerOrder } = await t.api.data<{ customerOrder: { status: string } }>(op.CUSTOMER_ORDER_QUERY, { id: orderId });
      expect(customerOrder.status).toBe('EXPIRED');
      expect((await stockOf(t.api, w.carrots)).held).toBe('0');

      const second = await checkout(t.api, w.session.id, 'bea', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
      t.clock.set('2026-11-23T09:40:00+01:00');
      await t.app.scheduler.runOnce();
      const after = await orderMutation(t.api, mutation, second.customerOrder!.id);
      expect(before.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_STATE', field: ['customerOrderId'] })]);
      expect(after.userErrors.map((e) => [e.code, e.message.replace(second.customerOrder!.id, orderId)])).toEqual(before.userErrors.map((e) => [e.code, e.message]));
      await expectStockConsistent(t.db);
    });
  }

  it('answers an unknown or malformed order id with NOT_FOUND', async () => {
    for (const id of [randomUUID(), 'order-1']) {
      for (const mutation of [op.CONFIRM_PAYMENT, op.FAIL_PAYMENT, op.CANCEL_CUSTOMER_ORDER]) {
        const result = await orderMutation(t.api, mutation, id);
        expect(result.userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND', field: ['customerOrderId'] })]);
      }
    }
  });
});

describe('hold duration', () => {
  it('follows HOLD_DURATION', async () => {
    const t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { HOLD_DURATION: 'PT5M' } });
    try {
      const w = await openSessionWorld(t.api);
      const result = await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
      expect(result.customerOrder!.holdExpiresAt).toBe('2026-11-23T08:05:00Z');
    } finally {
      await t.stop();
    }
  });
});
