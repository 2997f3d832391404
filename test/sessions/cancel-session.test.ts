// A hub cancels a session it opened by mistake, or whose delivery fell through: its orders are
// cancelled, their stock is back on sale at once on every hub, and its producers have nothing to
// pick. All over the API, against the real database.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANCEL_CUSTOMER_ORDER, CLOSE_SALES_SESSION, CONFIRM_PAYMENT, FAIL_PAYMENT } from '../support/operations.js';
import { expectStatesConsistent, expectStockConsistent } from '../support/invariants.js';
import { checkout, createHub, createProducer, createProduct, createSession, orderMutation, sessionView, stockOf, type UserErrorShape } from '../support/scenarios.js';
import { levelsLockedElsewhere, lockedElsewhere } from '../support/locked-elsewhere.js';
import { waitForLockWait } from '../support/wait.js';
import { AVAILABILITY, type AvailabilityEventShape, RESERVATIONS, type ReservationEventShape, eventsHandedOut, subscribe } from '../support/subscriptions.js';
import type { GraphQLClient } from '../support/graphql.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const OPEN = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00' };

const CANCEL_SALES_SESSION = `mutation ($input: CancelSalesSessionInput!) {
  cancelSalesSession(input: $input) { salesSession { id status cancelledAt closedEarlyAt } userErrors { field message code } } }`;

interface CancelPayload {
  salesSession: { id: string; status: string; cancelledAt: string | null; closedEarlyAt: string | null } | null;
  userErrors: UserErrorShape[];
}

async function cancelSession(api: GraphQLClient, salesSessionId: string): Promise<CancelPayload> {
  return (await api.data<{ cancelSalesSession: CancelPayload }>(CANCEL_SALES_SESSION, { input: { salesSessionId } })).cancelSalesSession;
}

/** How many of a session's customer orders are in each status, read with SQL. */
async function ordersOf(db: pg.Pool, sessionId: string): Promise<Record<string, number>> {
  const { rows } = await db.query('SELECT status, count(*)::int AS n FROM customer_order WHERE sales_session_id = $1 GROUP BY status', [sessionId]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

describe('cancelSalesSession', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { DATABASE_POOL_SIZE: '32' } });
  });
  afterAll(() => t.stop());

  /** A producer's product sold by two hubs: the session to cancel (capped at `cap`, if given) and another. */
  async function sharedProduct(name: string, onHand: string, cap?: string) {
    const producer = await createProducer(t.api, `${name} farm`);
    const product = await createProduct(t.api, producer, { name, unit: 'each', onHand });
    const hub = await createHub(t.api, `${name} hub`);
    const session = await createSession(t.api, hub, { ...OPEN, products: [product], ...(cap ? { caps: { [product]: cap } } : {}) });
    const other = await createSession(t.api, await createHub(t.api, `${name} other hub`), { ...OPEN, products: [product] });
    return { producer, product, hub, session, offer: session.offerFor(product), other, otherOffer: other.offerFor(product) };
  }

  /**
   * Cancels the session while holding it up at the product's levels (locked here), once it holds
   * the session; sends `requests` then, and lets the cancel go on once `waiting` of them wait for it.
   */
  async function cancelWhileHeld<T>(sessionId: string, product: string, requests: () => Promise<T>, waiting: number) {
    const levels = await levelsLockedElsewhere(t.db, product);
    let cancelling: Promise<CancelPayload> | undefined;
    let sent: Promise<T> | undefined;
    try {
      cancelling = cancelSession(t.api, sessionId);
      await waitForLockWait(t.db, 'the cancel to wait for the levels');
      sent = requests();
      await waitForLockWait(t.db, 'the requests to wait for the cancel', 1 + waiting);
    } finally {
      await levels.release();
    }
    return { cancelled: await cancelling, answers: await sent };
  }

  it('cancels pending and paid orders, gives their stock back to every hub at once, and leaves the producer nothing to pick', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { producer, product, session, offer, other, otherOffer } = await sharedProduct('Pumpkins', '10', '8');
    const paid = await checkout(t.api, session.id, 'ann', [{ offerId: offer, quantity: '3' }]);
    expect((await orderMutation(t.api, CONFIRM_PAYMENT, paid.customerOrder!.id)).userErrors).toEqual([]);
    const pending = await checkout(t.api, session.id, 'bob', [{ offerId: offer, quantity: '4' }]);
    expect(pending.userErrors).toEqual([]);
    const elsewhere = await checkout(t.api, other.id, 'cem', [{ offerId: otherOffer, quantity: '2' }]);
    expect(elsewhere.userErrors).toEqual([]);
    expect(await stockOf(t.api, product)).toMatchObject({ held: '9', available: '1' });

    // The three holds, handed out before the producer and the storefronts subscribe, are not theirs to get.
    await eventsHandedOut(t.app);
    const reservations = await subscribe<ReservationEventShape>(await t.as({ role: 'producer', producerId: producer }), RESERVATIONS, { producerId: producer }, { servedBy: t.app });
    const availability = await subscribe<AvailabilityEventShape>(t.api, AVAILABILITY, { salesSessionId: other.id }, { servedBy: t.app });
    const ownAvailability = await subscribe<AvailabilityEventShape>(t.api, AVAILABILITY, { salesSessionId: session.id }, { servedBy: t.app });
    try {
      const cancelled = await cancelSession(t.api, session.id);
      expect(cancelled).toEqual({
        salesSession: { id: session.id, status: 'CANCELLED', cancelledAt: '2026-11-23T10:00:00+01:00', closedEarlyAt: '2026-11-23T10:00:00+01:00' },
        userErrors: [],
      });

      // Both of this session's orders, paid or not, are cancelled; the other hub's stands. The
      // hub tells the one to refund by its paidAt.
      expect(await ordersOf(t.db, session.id)).toEqual({ CANCELLED: 2 });
      const { customerOrders } = await t.api.data<{ customerOrders: { customerRef: string; status: string; paidAt: string | null }[] }>(
        'query ($id: ID!) { customerOrders(salesSessionId: $id, status: [CANCELLED]) { customerRef status paidAt } }',
        { id: session.id },
      );
      expect(customerOrders).toEqual([
        { customerRef: 'ann', status: 'CANCELLED', paidAt: '2026-11-23T09:00:00Z' },
        { customerRef: 'bob', status: 'CANCELLED', paidAt: null },
      ]);
      expect(await stockOf(t.api, product)).toEqual({ onHand: '10', held: '2', committed: '0', available: '8' });
      const view = await sessionView(t.api, session.id);
      expect(view.status).toBe('CANCELLED');
      expect(view.offers).toEqual([{ id: offer, available: '0', product: { id: product } }]);
      expect(view.producerOrders).toEqual([expect.objectContaining({ orderState: 'CANCELLED', fulfilmentState: 'CANCELLED', lines: [] })]);

      // The producer is told of each order's release; the other hub's storefront of the stock it can sell.
      const events = await reservations.waitForCount(2);
      expect(events.map((e) => [e.kind, e.quantity, e.producerOrder.orderState]).sort()).toEqual([
        ['RELEASED', '3', 'CANCELLED'],
        ['RELEASED', '4', 'CANCELLED'],
      ]);
      const [, last] = await availability.waitForCount(2);
      expect(last).toMatchObject({ available: '8', offer: { id: otherOffer } });
      // Its own storefront is told it sells nothing (its offer's close), and nothing of the stock
      // that came back, which is not this session's to sell.
      expect((await ownAvailability.waitForCount(1)).map((e) => [e.available, e.offer.available])).toEqual([['0', '0']]);
    } finally {
      await reservations.close();
      await availability.close();
      await ownAvailability.close();
    }

    // The other hub sells what came back.
    const more = await checkout(t.api, other.id, 'dee', [{ offerId: otherOffer, quantity: '8' }]);
    expect(more.userErrors).toEqual([]);
    // Nothing is taken of the cancelled session's cap any more.
    const { rows: [capped] } = await t.db.query('SELECT taken FROM offer WHERE id = $1', [offer]);
    expect(capped.taken).toBe('0.000');
    await expectStockConsistent(t.db);
    await expectStatesConsistent(t.db);
  });

  it('sells nothing more, takes no payment result, and is never completed', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { session, offer } = await sharedProduct('Quinces', '10');
    const pending = await checkout(t.api, session.id, 'ann', [{ offerId: offer, quantity: '1' }]);
    expect((await cancelSession(t.api, session.id)).userErrors).toEqual([]);

    const late = await checkout(t.api, session.id, 'bob', [{ offerId: offer, quantity: '1' }]);
    expect(late).toEqual({ customerOrder: null, userErrors: [{ code: 'SESSION_NOT_OPEN', field: ['salesSessionId'], message: 'the sales session was cancelled' }] });
    // Replayed, the hold and its release read as what the session sells now: nothing.
    const replay = await subscribe<AvailabilityEventShape>(t.api, AVAILABILITY, { salesSessionId: session.id, after: '0' });
    try {
      expect((await replay.waitForCount(2)).map((e) => e.available)).toEqual(['0', '0']);
    } finally {
      await replay.close();
    }
    const paidLate = await orderMutation(t.api, CONFIRM_PAYMENT, pending.customerOrder!.id);
    expect(paidLate.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_STATE', message: 'cannot confirm payment for an order that is CANCELLED' })]);
    // Cancelling its order again answers as for any cancelled order.
    expect((await orderMutation(t.api, CANCEL_CUSTOMER_ORDER, pending.customerOrder!.id)).customerOrder).toMatchObject({ status: 'CANCELLED' });

    const update = await t.api.data<{ updateSalesSession: { userErrors: UserErrorShape[] } }>(
      'mutation ($input: UpdateSalesSessionInput!) { updateSalesSession(input: $input) { userErrors { field message code } } }',
      { input: { salesSessionId: session.id, closesAt: '2026-11-23T22:00:00+01:00' } },
    );
    expect(update.updateSalesSession.userErrors).toEqual([{ code: 'INVALID_STATE', field: ['salesSessionId'], message: 'the session was cancelled' }]);

    // Past its close, the scheduler leaves it as it is: nothing to complete, nothing committed.
    t.clock.set('2026-11-23T21:00:00+01:00');
    await t.app.scheduler.runOnce();
    const view = await sessionView(t.api, session.id);
    expect(view.status).toBe('CANCELLED');
    expect(view.producerOrders.map((o) => o.orderState)).toEqual(['CANCELLED']);
    const close = await t.api.data<{ closeSalesSession: { salesSession: { status: string } } }>(CLOSE_SALES_SESSION, { input: { salesSessionId: session.id } });
    expect(close.closeSalesSession.salesSession.status).toBe('CANCELLED');
    await expectStatesConsistent(t.db);
  });

  it('leaves an order whose hold had lapsed EXPIRED, as a cancel of that order would, though the scheduler had not marked it', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { product, session, offer } = await sharedProduct('Kale', '10');
    const lapsed = await checkout(t.api, session.id, 'ann', [{ offerId: offer, quantity: '2' }]);
    t.clock.set('2026-11-23T10:30:00+01:00');
    const fresh = await checkout(t.api, session.id, 'bob', [{ offerId: offer, quantity: '3' }]);
    expect((await cancelSession(t.api, session.id)).userErrors).toEqual([]);
    const statusOf = async (id: string) => (await t.api.data<{ customerOrder: { status: string } }>('query ($id: ID!) { customerOrder(id: $id) { status } }', { id })).customerOrder.status;
    expect(await statusOf(lapsed.customerOrder!.id)).toBe('EXPIRED');
    expect(await statusOf(fresh.customerOrder!.id)).toBe('CANCELLED');
    expect((await orderMutation(t.api, CONFIRM_PAYMENT, lapsed.customerOrder!.id)).userErrors).toEqual([expect.objectContaining({ code: 'HOLD_EXPIRED' })]);
    expect(await stockOf(t.api, product)).toMatchObject({ held: '0', available: '10' });
    await expectStatesConsistent(t.db);
  });

  it('answers a repeated cancel as the first, and changes nothing the second time', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { product, session, offer } = await sharedProduct('Rhubarb', '10');
    await checkout(t.api, session.id, 'ann', [{ offerId: offer, quantity: '2' }]);
    const first = await cancelSession(t.api, session.id);
    t.clock.set('2026-11-23T11:00:00+01:00');
    const { rows: [before] } = await t.db.query('SELECT count(*)::int AS n FROM stock_movement WHERE product_id = $1', [product]);
    const again = await cancelSession(t.api, session.id);
    expect(again).toEqual(first);
    const { rows: [after] } = await t.db.query('SELECT count(*)::int AS n FROM stock_movement WHERE product_id = $1', [product]);
    expect(after.n).toBe(before.n);
    await expectStatesConsistent(t.db);
  });

  it('cancels a session that has not opened, and one that closed but waits for a payment result', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const producer = await createProducer(t.api, 'Sorrel farm');
    const product = await createProduct(t.api, producer, { name: 'Sorrel', unit: 'each', onHand: '10' });
    const hub = await createHub(t.api, 'Sorrel hub');
    const later = await createSession(t.api, hub, { opensAt: '2026-11-30T07:00:00+01:00', closesAt: '2026-11-30T20:00:00+01:00', products: [product] });
    expect((await cancelSession(t.api, later.id)).salesSession).toMatchObject({ status: 'CANCELLED' });

    const closing = await createSession(t.api, hub, { ...OPEN, products: [product] });
    t.clock.set('2026-11-23T19:59:00+01:00');
    const pending = await checkout(t.api, closing.id, 'ann', [{ offerId: closing.offerFor(product), quantity: '5' }]);
    t.clock.set('2026-11-23T20:01:00+01:00');
    // Closed, and not completed while the order's payment result is awaited.
    await t.app.scheduler.runOnce();
    expect((await sessionView(t.api, closing.id)).status).toBe('CLOSED');
    const cancelled = await cancelSession(t.api, closing.id);
    // It closed on schedule, before it was cancelled.
    expect(cancelled.salesSession).toMatchObject({ status: 'CANCELLED', cancelledAt: '2026-11-23T20:01:00+01:00', closedEarlyAt: null });
    expect((await t.api.data<{ customerOrder: { status: string } }>('query ($id: ID!) { customerOrder(id: $id) { status } }', { id: pending.customerOrder!.id })).customerOrder.status).toBe('CANCELLED');
    expect(await stockOf(t.api, product)).toMatchObject({ held: '0', available: '10' });
    await expectStockConsistent(t.db);
    await expectStatesConsistent(t.db);
  });

  it('refuses a completed session: its stock is committed and its producers are picking', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { product, session, offer } = await sharedProduct('Turnips', '10');
    const order = await checkout(t.api, session.id, 'ann', [{ offerId: offer, quantity: '3' }]);
    await orderMutation(t.api, CONFIRM_PAYMENT, order.customerOrder!.id);
    await t.api.data(CLOSE_SALES_SESSION, { input: { salesSessionId: session.id } });
    await t.app.scheduler.runOnce();

    const refused = await cancelSession(t.api, session.id);
    expect(refused).toEqual({
      salesSession: null,
      userErrors: [{ code: 'INVALID_STATE', field: ['salesSessionId'], message: 'the session is complete: its producers are fulfilling its orders' }],
    });
    const view = await sessionView(t.api, session.id);
    expect(view.status).toBe('COMPLETED');
    expect(view.producerOrders).toEqual([expect.objectContaining({ orderState: 'COMPLETE', lines: [{ product: { id: product }, quantity: '3' }] })]);
    expect(await stockOf(t.api, product)).toMatchObject({ committed: '3' });
  });

  it('is the hub\'s alone: another hub is refused before any lock, and an unknown session is not found', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { hub, session, offer } = await sharedProduct('Walnuts', '10');
    await checkout(t.api, session.id, 'ann', [{ offerId: offer, quantity: '1' }]);
    const stranger = await t.as({ role: 'hub', hubId: await createHub(t.api, 'Stranger hub') });
    // A checkout in flight holds the session shared: the stranger's answer does not wait for it.
    const inFlight = await lockedElsewhere(t.db, 'SELECT 1 FROM sales_session WHERE id = $1 FOR KEY SHARE', [session.id]);
    try {
      const answer = await Promise.race([
        cancelSession(stranger, session.id),
        waitForLockWait(t.db, 'the cancel to wait for the lock').then(() => 'waited for the lock' as const),
      ]);
      expect(answer).toMatchObject({ salesSession: null, userErrors: [{ code: 'FORBIDDEN', field: ['salesSessionId'] }] });
    } finally {
      await inFlight.release();
    }
    const customer = await t.as({ role: 'customer', hubId: hub, customerRef: 'ann' });
    const asCustomer = await customer.request(CANCEL_SALES_SESSION, { input: { salesSessionId: session.id } });
    expect(asCustomer.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await ordersOf(t.db, session.id)).toEqual({ PENDING_PAYMENT: 1 });

    expect((await cancelSession(t.api, randomUUID())).userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND', field: ['salesSessionId'] })]);
    expect((await cancelSession(t.api, 'not-a-session')).userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND', field: ['salesSessionId'] })]);
  });

  it('cancels the orders placed before it, and refuses each checkout that waited for it: none is placed in a cancelled session', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { product, session, offer } = await sharedProduct('Medlars', '20');
    const placed = await checkout(t.api, session.id, 'ann', [{ offerId: offer, quantity: '2' }]);
    // They read the session as open (the cancel has not committed), and wait for it to write.
    const { cancelled, answers } = await cancelWhileHeld(session.id, product,
      () => Promise.all(Array.from({ length: 5 }, (_, i) => checkout(t.api, session.id, `w${i}`, [{ offerId: offer, quantity: '1' }]))), 1);
    expect(cancelled.salesSession).toMatchObject({ status: 'CANCELLED' });
    for (const late of answers) {
      expect(late).toMatchObject({ customerOrder: null, userErrors: [{ code: 'SESSION_NOT_OPEN' }] });
    }
    expect(await ordersOf(t.db, session.id)).toEqual({ CANCELLED: 1 });
    expect((await t.api.data<{ customerOrder: { status: string } }>('query ($id: ID!) { customerOrder(id: $id) { status } }', { id: placed.customerOrder!.id })).customerOrder.status).toBe('CANCELLED');
    expect(await stockOf(t.api, product)).toMatchObject({ held: '0', available: '20' });
    await expectStockConsistent(t.db);
  });

  it('answers the payment results and cancels that waited for it as for a cancelled order, without a deadlock', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { product, session, offer } = await sharedProduct('Sloes', '20');
    const orders = await Promise.all(['ann', 'bob', 'cem'].map(async (customer) => (await checkout(t.api, session.id, customer, [{ offerId: offer, quantity: '1' }])).customerOrder!.id));
    // Each order's result arrives while the cancel holds the session, and waits for it (it takes
    // its order's lock after the session's).
    const { cancelled, answers: [confirmed, failed, cancelledOrder] } = await cancelWhileHeld(session.id, product,
      () => Promise.all([CONFIRM_PAYMENT, FAIL_PAYMENT, CANCEL_CUSTOMER_ORDER].map((mutation, i) => orderMutation(t.api, mutation, orders[i]!))), 3);
    expect(cancelled.userErrors).toEqual([]);
    expect(confirmed!.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_STATE', message: 'cannot confirm payment for an order that is CANCELLED' })]);
    expect(failed!.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_STATE', message: 'cannot fail payment for an order that is CANCELLED' })]);
    expect(cancelledOrder).toMatchObject({ customerOrder: { status: 'CANCELLED' }, userErrors: [] });
    expect(await stockOf(t.api, product)).toMatchObject({ held: '0', available: '20' });
    await expectStockConsistent(t.db);
    await expectStatesConsistent(t.db);
  });

  it('lets no checkout slip past it: each of 40 racing customers is either cancelled with its stock given back, or refused', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { product, session, offer, other, otherOffer } = await sharedProduct('Chestnuts', '100', '30');
    const answers = await Promise.all([
      ...Array.from({ length: 40 }, (_, i) => checkout(t.api, session.id, `c${i}`, [{ offerId: offer, quantity: '1' }]).then((r) => ({ kind: 'checkout' as const, r }))),
      ...Array.from({ length: 10 }, (_, i) => checkout(t.api, other.id, `o${i}`, [{ offerId: otherOffer, quantity: '1' }]).then((r) => ({ kind: 'other' as const, r }))),
      cancelSession(t.api, session.id).then((r) => ({ kind: 'cancel' as const, r })),
    ]);
    const cancel = answers.find((a) => a.kind === 'cancel')!.r as CancelPayload;
    expect(cancel.userErrors).toEqual([]);
    for (const answer of answers) {
      if (answer.kind === 'cancel') continue;
      const { r } = answer;
      if (answer.kind === 'other') expect(r.userErrors).toEqual([]);
      // Placed before the cancel took the session (then cancelled with it), or refused after.
      else if (r.customerOrder === null) expect(r.userErrors.map((e) => e.code)).toEqual([expect.stringMatching(/^(SESSION_NOT_OPEN|INSUFFICIENT_STOCK)$/)]);
    }
    expect(Object.keys(await ordersOf(t.db, session.id)).filter((status) => status !== 'CANCELLED')).toEqual([]);
    // All that is held is the other hub's.
    expect(await stockOf(t.api, product)).toMatchObject({ held: '10', available: '90' });
    await expectStockConsistent(t.db);
    await expectStatesConsistent(t.db);
  });
});
