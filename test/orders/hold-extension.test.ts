// A payment that takes longer than a hold (a bank's check, a second factor): the hub extends the
// hold, up to a bound from the checkout, so stock is never held from other hubs for long.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_SALES_SESSION, CONFIRM_PAYMENT, EXTEND_HOLD } from '../support/operations.js';
import { expectStatesConsistent, expectStockConsistent } from '../support/invariants.js';
import type { GraphQLClient } from '../support/graphql.js';
import { checkout, type CheckoutResult, createHub, createProducer, createProduct, createSession, orderMutation, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const OPEN = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00' };

describe('extendHold', () => {
  let t: TestApp;
  beforeAll(async () => {
    // HOLD_DURATION PT15M and HOLD_MAX_DURATION PT1H, the defaults.
    t = await startTestApp({ start: '2026-11-23T10:00:00+01:00' });
  });
  afterAll(() => t.stop());

  const extend = async (api: GraphQLClient, customerOrderId: string): Promise<CheckoutResult> =>
    orderMutation(api, EXTEND_HOLD, customerOrderId);

  /** A hub selling 10 of a product, and a pending order of 4 of it placed now. */
  async function pendingOrder(name: string) {
    const producer = await createProducer(t.api, `${name} farm`);
    const product = await createProduct(t.api, producer, { name, unit: 'each', onHand: '10' });
    const hub = await createHub(t.api, `${name} hub`);
    const session = await createSession(t.api, hub, { ...OPEN, products: [product] });
    const placed = await checkout(t.api, session.id, 'ann', [{ offerId: session.offerFor(product), quantity: '4' }]);
    expect(placed.userErrors).toEqual([]);
    return { product, hub, session, order: placed.customerOrder!.id };
  }

  it('gives the hold HOLD_DURATION more from now, up to HOLD_MAX_DURATION after the checkout, and the scheduler follows', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { product, order } = await pendingOrder('Quail eggs');

    t.clock.set('2026-11-23T10:10:00+01:00');
    expect(await extend(t.api, order)).toMatchObject({ customerOrder: { status: 'PENDING_PAYMENT', holdExpiresAt: '2026-11-23T09:25:00Z' }, userErrors: [] });
    // Past the first expiry, the scheduler leaves it: the hold now runs to 10:25.
    t.clock.set('2026-11-23T10:20:00+01:00');
    await t.app.scheduler.runOnce();
    expect(await stockOf(t.api, product)).toMatchObject({ held: '4' });

    // Again and again, each time before it lapses; never past an hour from the checkout: 10:48 +
    // 15 minutes is cut to 11:00.
    expect((await extend(t.api, order)).customerOrder).toMatchObject({ holdExpiresAt: '2026-11-23T09:35:00Z' });
    t.clock.set('2026-11-23T10:34:00+01:00');
    expect((await extend(t.api, order)).customerOrder).toMatchObject({ holdExpiresAt: '2026-11-23T09:49:00Z' });
    t.clock.set('2026-11-23T10:48:00+01:00');
    expect((await extend(t.api, order)).customerOrder).toMatchObject({ holdExpiresAt: '2026-11-23T10:00:00Z' });
    // At its bound, asking again answers with the order as it is.
    t.clock.set('2026-11-23T10:55:00+01:00');
    expect(await extend(t.api, order)).toMatchObject({ customerOrder: { status: 'PENDING_PAYMENT', holdExpiresAt: '2026-11-23T10:00:00Z' }, userErrors: [] });

    // A payment within it confirms the order.
    expect((await orderMutation(t.api, CONFIRM_PAYMENT, order)).customerOrder).toMatchObject({ status: 'CONFIRMED' });
    await expectStatesConsistent(t.db);
  });

  it('lets the extended hold lapse at its new time, and then refuses another extension', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { product, order } = await pendingOrder('Duck eggs');
    t.clock.set('2026-11-23T10:14:00+01:00');
    expect((await extend(t.api, order)).customerOrder).toMatchObject({ holdExpiresAt: '2026-11-23T09:29:00Z' });
    // Held past its first expiry (10:15), up to the new one.
    t.clock.set('2026-11-23T10:28:00+01:00');
    await t.app.scheduler.runOnce();
    expect(await stockOf(t.api, product)).toMatchObject({ held: '4' });
    t.clock.set('2026-11-23T10:29:01+01:00');
    await t.app.scheduler.runOnce();
    expect(await stockOf(t.api, product)).toMatchObject({ held: '0', available: '10' });
    expect(await extend(t.api, order)).toMatchObject({ customerOrder: null, userErrors: [{ code: 'HOLD_EXPIRED', field: ['customerOrderId'] }] });
    await expectStockConsistent(t.db);
  });

  it('expires a hold that lapsed before the scheduler marked it, rather than extend it', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { product, order } = await pendingOrder('Goose eggs');
    t.clock.set('2026-11-23T10:16:00+01:00');
    expect(await extend(t.api, order)).toMatchObject({ customerOrder: null, userErrors: [{ code: 'HOLD_EXPIRED' }] });
    // The stock is back on sale at once, without waiting for the scheduler.
    expect(await stockOf(t.api, product)).toMatchObject({ held: '0', available: '10' });
    const { customerOrder } = await t.api.data<{ customerOrder: { status: string } }>('query ($id: ID!) { customerOrder(id: $id) { status } }', { id: order });
    expect(customerOrder.status).toBe('EXPIRED');
    await expectStockConsistent(t.db);
    await expectStatesConsistent(t.db);
  });

  const CANCEL_SESSION = 'mutation ($input: CancelSalesSessionInput!) { cancelSalesSession(input: $input) { userErrors { field message code } } }';
  /** What expires a lapsed hold, sent by the order's hub, and what it answers then. */
  const expiring: [string, (hub: GraphQLClient, order: string, session: string) => Promise<unknown>, unknown][] = [
    ['an extension', (hub, order) => orderMutation(hub, EXTEND_HOLD, order), { customerOrder: null, userErrors: [{ code: 'HOLD_EXPIRED' }] }],
    ['a late payment result', (hub, order) => orderMutation(hub, CONFIRM_PAYMENT, order), { customerOrder: null, userErrors: [{ code: 'HOLD_EXPIRED' }] }],
    ["a cancel of the order's session", (hub, _order, session) => hub.data(CANCEL_SESSION, { input: { salesSessionId: session } }), { cancelSalesSession: { userErrors: [] } }],
  ];
  for (const [what, send, answered] of expiring) {
    it(`tries a short basket again when ${what} expired the lapsed hold it was short of, between its refusal and its own expiry pass`, async () => {
      t.clock.set('2026-11-23T10:00:00+01:00');
      const { product, hub, session, order } = await pendingOrder(`Apricots for ${what}`);
      const other = await createSession(t.api, await createHub(t.api, `Apricot other hub for ${what}`), { ...OPEN, products: [product] });
      t.clock.set('2026-11-23T10:16:00+01:00');
      // Bea's 10 are refused (the lapsed 4 still count); before her checkout's own pass over
      // lapsed holds, the order's hub sends its request, which finds the hold lapsed and expires it.
      const service = t.app.services.customerOrders;
      const expireLapsedHoldsOf = service.expireLapsedHoldsOf.bind(service);
      let answer: unknown;
      service.expireLapsedHoldsOf = async (ctx, offerIds) => {
        answer = await send(await t.as({ role: 'hub', hubId: hub }), order, session.id);
        return expireLapsedHoldsOf(ctx, offerIds);
      };
      try {
        const bea = await checkout(t.api, other.id, 'bea', [{ offerId: other.offerFor(product), quantity: '10' }]);
        expect(answer).toMatchObject(answered as object);
        expect(bea.userErrors).toEqual([]);
      } finally {
        service.expireLapsedHoldsOf = expireLapsedHoldsOf;
      }
      expect(await stockOf(t.api, product)).toMatchObject({ held: '10', available: '0' });
    });
  }

  it('refuses a paid order, a closed session, another hub, a customer and an unknown order, changing nothing', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const paid = await pendingOrder('Pheasant eggs');
    await orderMutation(t.api, CONFIRM_PAYMENT, paid.order);
    expect((await extend(t.api, paid.order)).userErrors).toEqual([{ code: 'INVALID_STATE', field: ['customerOrderId'], message: "only a pending order's hold can be extended: this one is CONFIRMED" }]);

    const { hub, session, order } = await pendingOrder('Emu eggs');
    const stranger = await t.as({ role: 'hub', hubId: await createHub(t.api, 'Stranger hub') });
    expect((await extend(stranger, order)).userErrors).toEqual([expect.objectContaining({ code: 'FORBIDDEN', field: ['customerOrderId'] })]);
    const customer = await t.as({ role: 'customer', hubId: hub, customerRef: 'ann' });
    expect((await customer.request(EXTEND_HOLD, { input: { customerOrderId: order } })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await extend(t.api, randomUUID())).userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })]);

    // Closed: the hold ends with the payment result or at its expiry, and completion waits for it.
    await t.api.data(CLOSE_SALES_SESSION, { input: { salesSessionId: session.id } });
    expect((await extend(t.api, order)).userErrors).toEqual([expect.objectContaining({ code: 'SESSION_NOT_OPEN', field: ['customerOrderId'] })]);
    const { customerOrder } = await t.api.data<{ customerOrder: { holdExpiresAt: string } }>('query ($id: ID!) { customerOrder(id: $id) { holdExpiresAt } }', { id: order });
    expect(customerOrder.holdExpiresAt).toBe('2026-11-23T09:15:00Z');
  });
});
