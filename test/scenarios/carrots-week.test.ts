// DESIGN.md §2: Jean's 10 kg of carrots sold through Hub A (Mon-Fri) and Hub B (Tue-Thu).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import {
  checkout,
  createHub,
  createProducer,
  createProduct,
  createSession,
  orderMutation,
  sessionView,
  stockOf,
} from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('the carrots week', () => {
  let t: TestApp;
  let carrots: string;
  let hubA: string;
  let hubB: string;
  let sessionA: Awaited<ReturnType<typeof createSession>>;
  let sessionB: Awaited<ReturnType<typeof createSession>>;

  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T08:00:00+01:00' }); // Monday morning in Paris
    const jean = await createProducer(t.api, 'Jean');
    carrots = await createProduct(t.api, jean, { name: 'Carrots', unit: 'kg', onHand: '10' });
    hubA = await createHub(t.api, 'Hub A');
    hubB = await createHub(t.api, 'Hub B');
    sessionA = await createSession(t.api, hubA, {
      opensAt: '2026-11-23T09:00:00+01:00',
      closesAt: '2026-11-27T18:00:00+01:00',
      products: [carrots],
    });
    sessionB = await createSession(t.api, hubB, {
      opensAt: '2026-11-24T09:00:00+01:00',
      closesAt: '2026-11-26T18:00:00+01:00',
      products: [carrots],
    });
  });
  afterAll(() => t.stop());

  async function buy(session: typeof sessionA, customer: string, kg: string) {
    const result = await checkout(t.api, session.id, customer, [{ offerId: session.offerFor(carrots), quantity: kg }]);
    if (result.customerOrder) {
      const paid = await orderMutation(t.api, op.CONFIRM_PAYMENT, result.customerOrder.id);
      expect(paid.customerOrder?.status).toBe('CONFIRMED');
    }
    return result;
  }

  it('holds stock across both hubs and tells the last customer what is left', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    expect((await buy(sessionA, 'Ali', '1')).userErrors).toEqual([]);

    t.clock.set('2026-11-24T10:00:00+01:00');
    const paul = await buy(sessionB, 'Paul', '5');
    expect(paul.userErrors).toEqual([]);

    t.clock.set('2026-11-25T10:00:00+01:00');
    expect((await buy(sessionA, 'David', '3')).userErrors).toEqual([]);
    expect(await stockOf(t.api, carrots)).toEqual({ onHand: '10', held: '9', committed: '0', available: '1' });

    const michael = await buy(sessionB, 'Michael', '2');
    expect(michael.customerOrder).toBeNull();
    expect(michael.userErrors).toEqual([
      {
        code: 'INSUFFICIENT_STOCK',
        field: ['lines', '0', 'quantity'],
        message: 'only 1 kg of "Carrots" is available, 2 was asked',
      },
    ]);

    // Paul cancels: his 5 kg are back on sale at once, on both hubs.
    const cancelled = await orderMutation(t.api, op.CANCEL_CUSTOMER_ORDER, paul.customerOrder!.id);
    expect(cancelled.customerOrder?.status).toBe('CANCELLED');
    for (const session of [sessionA, sessionB]) {
      const view = await sessionView(t.api, session.id);
      expect(view.offers[0]!.available).toBe('6');
    }

    const retry = await buy(sessionB, 'Michael', '2');
    expect(retry.userErrors).toEqual([]);
    expect(await stockOf(t.api, carrots)).toEqual({ onHand: '10', held: '6', committed: '0', available: '4' });
    await expectStockConsistent(t.db);
  });

  it('completes each session at its own closing time', async () => {
    t.clock.set('2026-11-26T18:00:00+01:00'); // Thursday 18:00: Hub B closes
    await t.app.scheduler.runOnce();

    const b = await sessionView(t.api, sessionB.id);
    expect(b.status).toBe('COMPLETED');
    expect(b.producerOrders).toHaveLength(1);
    expect(b.producerOrders[0]).toMatchObject({
      orderState: 'COMPLETE',
      fulfilmentState: 'UNFULFILLED',
      hub: { id: hubB },
      lines: [{ product: { id: carrots }, quantity: '2' }],
    });
    const a = await sessionView(t.api, sessionA.id);
    expect(a.status).toBe('OPEN');
    expect(a.producerOrders[0]).toMatchObject({ orderState: 'HELD', fulfilmentState: 'HELD', lines: [{ quantity: '4' }] });
    expect(await stockOf(t.api, carrots)).toEqual({ onHand: '10', held: '4', committed: '2', available: '4' });

    t.clock.set('2026-11-27T18:00:00+01:00'); // Friday 18:00: Hub A closes
    await t.app.scheduler.runOnce();

    const closedA = await sessionView(t.api, sessionA.id);
    expect(closedA.status).toBe('COMPLETED');
    expect(closedA.producerOrders[0]).toMatchObject({
      orderState: 'COMPLETE',
      fulfilmentState: 'UNFULFILLED',
      hub: { id: hubA },
      lines: [{ product: { id: carrots }, quantity: '4' }],
    });
    expect(await stockOf(t.api, carrots)).toEqual({ onHand: '10', held: '0', committed: '6', available: '4' });
    await expectStockConsistent(t.db);
  });
});
