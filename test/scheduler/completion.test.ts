import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { checkout, createHub, createProducer, createProduct, createSession, orderMutation, sessionView, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { openSessionWorld } from '../support/world.js';

const CLOSE = '2026-11-23T20:00:00+01:00';

describe('session completion', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());
  afterEach(() => t.clock.set('2026-11-23T09:00:00+01:00'));

  it('waits for orders still pending at the close, keeping their hold until paid', async () => {
    const w = await openSessionWorld(t.api);
    t.clock.set('2026-11-23T19:50:00+01:00');
    const pending = await checkout(t.api, w.session.id, 'late', [{ offerId: w.session.offerFor(w.carrots), quantity: '2' }]);

    t.clock.set(CLOSE);
    await t.app.scheduler.runOnce();
    let view = await sessionView(t.api, w.session.id);
    expect(view.status).toBe('CLOSED');
    expect(view.producerOrders[0]).toMatchObject({ orderState: 'HELD', lines: [{ quantity: '2' }] });
    expect((await stockOf(t.api, w.carrots)).held).toBe('2');

    const paid = await orderMutation(t.api, op.CONFIRM_PAYMENT, pending.customerOrder!.id);
    expect(paid.customerOrder?.status).toBe('CONFIRMED');
    await t.app.scheduler.runOnce();
    view = await sessionView(t.api, w.session.id);
    expect(view.status).toBe('COMPLETED');
    expect(view.producerOrders[0]).toMatchObject({ orderState: 'COMPLETE', fulfilmentState: 'UNFULFILLED', lines: [{ quantity: '2' }] });
    expect(await stockOf(t.api, w.carrots)).toEqual({ onHand: '10', held: '0', committed: '2', available: '8' });
    await expectStockConsistent(t.db);
  });

  it('completes once the last pending hold expires, without the expired lines', async () => {
    const w = await openSessionWorld(t.api);
    t.clock.set('2026-11-23T19:55:00+01:00');
    const paid = await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.eggs), quantity: '6' }]);
    await orderMutation(t.api, op.CONFIRM_PAYMENT, paid.customerOrder!.id);
    await checkout(t.api, w.session.id, 'never-pays', [
      { offerId: w.session.offerFor(w.eggs), quantity: '12' },
      { offerId: w.session.offerFor(w.carrots), quantity: '1' },
    ]);

    t.clock.set(CLOSE);
    await t.app.scheduler.runOnce();
    expect((await sessionView(t.api, w.session.id)).status).toBe('CLOSED');

    t.clock.set('2026-11-23T20:10:00+01:00'); // the unpaid hold lapses at 20:10
    await t.app.scheduler.runOnce();
    const view = await sessionView(t.api, w.session.id);
    expect(view.status).toBe('COMPLETED');
    const marie = view.producerOrders.find((o) => o.producer.id === w.marie)!;
    const jean = view.producerOrders.find((o) => o.producer.id === w.jean)!;
    expect(marie).toMatchObject({ orderState: 'COMPLETE', fulfilmentState: 'UNFULFILLED', lines: [{ product: { id: w.eggs }, quantity: '6' }] });
    // Jean's only line expired: his order is left with nothing to fulfil.
    expect(jean).toMatchObject({ orderState: 'CANCELLED', fulfilmentState: 'CANCELLED', lines: [] });
    expect(await stockOf(t.api, w.eggs)).toEqual({ onHand: '60', held: '0', committed: '6', available: '54' });
    expect(await stockOf(t.api, w.carrots)).toEqual({ onHand: '10', held: '0', committed: '0', available: '10' });
    await expectStockConsistent(t.db);
  });

  it('filters producer orders by producer, session and state', async () => {
    const w = await openSessionWorld(t.api);
    const order = await checkout(t.api, w.session.id, 'ali', [
      { offerId: w.session.offerFor(w.carrots), quantity: '1' },
      { offerId: w.session.offerFor(w.eggs), quantity: '1' },
    ]);
    await orderMutation(t.api, op.CONFIRM_PAYMENT, order.customerOrder!.id);
    const list = (vars: Record<string, unknown>) =>
      t.api.data<{ producerOrders: { producer: { id: string }; orderState: string }[] }>(op.PRODUCER_ORDERS, vars).then((d) => d.producerOrders);

    expect(await list({ salesSessionId: w.session.id })).toHaveLength(2);
    expect(await list({ producerId: w.jean, salesSessionId: w.session.id })).toEqual([expect.objectContaining({ producer: { id: w.jean } })]);
    expect(await list({ producerId: w.jean, orderState: 'COMPLETE' })).toEqual([]);
    t.clock.set(CLOSE);
    await t.app.scheduler.runOnce();
    expect(await list({ producerId: w.jean, orderState: 'COMPLETE' })).toEqual([expect.objectContaining({ orderState: 'COMPLETE' })]);
    expect(await list({ producerId: 'not-an-id' })).toEqual([]);
  });

  it("pages through a producer's orders, oldest first, with first: and after:", async () => {
    const jean = await createProducer(t.api, 'Jean the pager');
    const leeks = await createProduct(t.api, jean, { name: 'Leeks', onHand: '100' });
    const hubs = [await createHub(t.api, 'Page Hub A'), await createHub(t.api, 'Page Hub B')];
    // Five weeks at two hubs: ten producer orders, made in this order.
    const made: string[] = [];
    const sessions: string[] = [];
    for (let week = 0; week < 5; week += 1) {
      for (const hub of hubs) {
        const session = await createSession(t.api, hub, { opensAt: '2026-11-23T08:00:00+01:00', closesAt: `2026-12-${String(1 + week * 7).padStart(2, '0')}T18:00:00+01:00`, products: [leeks] });
        sessions.push(session.id);
        t.clock.advance({ minutes: 1 });
        await checkout(t.api, session.id, 'ali', [{ offerId: session.offerFor(leeks), quantity: '1' }]);
        made.push(...(await t.api.data<{ producerOrders: { id: string }[] }>(op.PRODUCER_ORDERS, { producerId: jean, salesSessionId: session.id })).producerOrders.map((o) => o.id));
      }
    }
    const producer = await t.as({ role: 'producer', producerId: jean });
    const page = (client: typeof producer, args: string) =>
      client.data<{ producerOrders: { id: string }[] }>(`{ producerOrders(${args}) { id } }`).then((d) => d.producerOrders.map((o) => o.id));
    const seen: string[] = [];
    for (let next = await page(producer, 'first: 3'); next.length > 0; next = await page(producer, `first: 3, after: "${seen.at(-1)}"`)) seen.push(...next);
    expect(seen).toEqual(made);
    // A hub pages through its own, and may not start from another hub's order.
    const hubA = await t.as({ role: 'hub', hubId: hubs[0]! });
    const ofHubA = made.filter((_, i) => i % 2 === 0);
    expect(await page(hubA, `producerId: "${jean}", after: "${ofHubA[1]}"`)).toEqual(ofHubA.slice(2));
    const foreign = await hubA.request(`{ producerOrders(after: "${made[1]}") { id } }`);
    expect(foreign.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    // Nor from an order of another session than the one asked for.
    const otherSession = await t.api.request(`{ producerOrders(salesSessionId: "${sessions[0]}", after: "${made[1]}") { id } }`);
    expect(otherSession.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('the scheduler does each due thing on its own', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  /** Runs `during` while another connection holds `lock` (a checkout or payment in flight, say), then lets go. */
  async function whileLocked(lock: string, params: unknown[], during: () => Promise<void>): Promise<void> {
    const inFlight = await t.db.connect();
    try {
      await inFlight.query('BEGIN');
      await inFlight.query(lock, params);
      await during();
    } finally {
      await inFlight.query('ROLLBACK');
      inFlight.release();
    }
  }

  it("completes every other hub's session while one of them is busy, and that one at the next tick", async () => {
    const jean = await createProducer(t.api, 'Jean');
    const carrots = await createProduct(t.api, jean, { name: 'Carrots', onHand: '10' });
    // A closes first, so it is the first due: the one held up.
    const [a, b] = [
      await createSession(t.api, await createHub(t.api, 'Hub A'), { opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-23T19:00:00+01:00', products: [carrots] }),
      await createSession(t.api, await createHub(t.api, 'Hub B'), { opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [carrots] }),
    ];
    for (const session of [a, b]) {
      const order = await checkout(t.api, session.id, 'ali', [{ offerId: session.offerFor(carrots), quantity: '1' }]);
      await orderMutation(t.api, op.CONFIRM_PAYMENT, order.customerOrder!.id);
    }
    t.clock.set(CLOSE);
    await whileLocked('SELECT 1 FROM sales_session WHERE id = $1 FOR KEY SHARE', [a.id], async () => {
      await t.app.scheduler.runOnce();
      expect((await sessionView(t.api, b.id)).status).toBe('COMPLETED');
      expect((await sessionView(t.api, a.id)).status).toBe('CLOSED');
    });
    await t.app.scheduler.runOnce();
    expect((await sessionView(t.api, a.id)).status).toBe('COMPLETED');
    expect(await stockOf(t.api, carrots)).toEqual({ onHand: '10', held: '0', committed: '2', available: '8' });
    await expectStockConsistent(t.db);
  });

  it("expires every other lapsed hold while one order is busy, and that one at the next tick", async () => {
    const marie = await createProducer(t.api, 'Marie');
    const [eggs, bread] = [await createProduct(t.api, marie, { name: 'Eggs', onHand: '10' }), await createProduct(t.api, marie, { name: 'Bread', onHand: '10' })];
    t.clock.set('2026-11-24T09:00:00+01:00');
    const open = { opensAt: '2026-11-24T08:00:00+01:00', closesAt: '2026-11-24T20:00:00+01:00' };
    const a = await createSession(t.api, await createHub(t.api, 'Hub C'), { ...open, products: [eggs] });
    const b = await createSession(t.api, await createHub(t.api, 'Hub D'), { ...open, products: [bread] });
    // The first to lapse is the first due: the one held up.
    const first = await checkout(t.api, a.id, 'ali', [{ offerId: a.offerFor(eggs), quantity: '4' }]);
    t.clock.set('2026-11-24T09:01:00+01:00');
    await checkout(t.api, b.id, 'bea', [{ offerId: b.offerFor(bread), quantity: '4' }]);
    t.clock.set('2026-11-24T09:30:00+01:00');
    await whileLocked('SELECT 1 FROM customer_order WHERE id = $1 FOR UPDATE', [first.customerOrder!.id], async () => {
      await t.app.scheduler.runOnce();
      expect((await stockOf(t.api, bread)).held).toBe('0');
      expect((await stockOf(t.api, eggs)).held).toBe('4');
    });
    await t.app.scheduler.runOnce();
    expect((await stockOf(t.api, eggs)).held).toBe('0');
    await expectStockConsistent(t.db);
  });

  it('completes a session closed early before one scheduled to close after it, when a pass takes only some', async () => {
    const farm = await createProducer(t.api, 'Early close farm');
    const plums = await createProduct(t.api, farm, { name: 'Plums', onHand: '10' });
    t.clock.set('2026-11-25T09:00:00+01:00');
    const scheduled = await createSession(t.api, await createHub(t.api, 'Hub E'), { opensAt: '2026-11-25T08:00:00+01:00', closesAt: '2026-11-25T12:00:00+01:00', products: [plums] });
    const closedEarly = await createSession(t.api, await createHub(t.api, 'Hub F'), { opensAt: '2026-11-25T08:00:00+01:00', closesAt: '2026-11-26T12:00:00+01:00', products: [plums] });
    const paid = await checkout(t.api, scheduled.id, 'ali', [{ offerId: scheduled.offerFor(plums), quantity: '1' }]);
    await orderMutation(t.api, op.CONFIRM_PAYMENT, paid.customerOrder!.id);
    // Closed at 10:00 with a payment still pending: it cannot complete before that is paid.
    const pending = await checkout(t.api, closedEarly.id, 'bea', [{ offerId: closedEarly.offerFor(plums), quantity: '1' }]);
    t.clock.set('2026-11-25T10:00:00+01:00');
    const closed = await t.api.data<{ closeSalesSession: { userErrors: unknown[] } }>(op.CLOSE_SALES_SESSION, { input: { salesSessionId: closedEarly.id } });
    expect(closed.closeSalesSession.userErrors).toEqual([]);

    // Paid at 13:00, when both are due: a pass that takes one session at a time takes the one closed first.
    const { completion } = t.app.services;
    const completeDueSessions = completion.completeDueSessions.bind(completion);
    completion.completeDueSessions = (ctx) => completeDueSessions(ctx, 1);
    try {
      t.clock.set('2026-11-25T13:00:00+01:00');
      await orderMutation(t.api, op.CONFIRM_PAYMENT, pending.customerOrder!.id);
      // Sessions of the tests above, due since yesterday, may come first, one a pass.
      for (let pass = 0; pass < 5 && (await sessionView(t.api, closedEarly.id)).status !== 'COMPLETED'; pass += 1) {
        expect((await sessionView(t.api, scheduled.id)).status).toBe('CLOSED');
        await t.app.scheduler.runOnce();
      }
      expect((await sessionView(t.api, closedEarly.id)).status).toBe('COMPLETED');
      expect((await sessionView(t.api, scheduled.id)).status).toBe('CLOSED');
    } finally {
      completion.completeDueSessions = completeDueSessions;
    }
    await t.app.scheduler.runOnce();
    expect((await sessionView(t.api, scheduled.id)).status).toBe('COMPLETED');
  });
});

describe('the scheduler keeps its state in PostgreSQL only', () => {
  it('completes a session on its own timer, with nobody calling', async () => {
    const t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { SCHEDULER_INTERVAL: 'PT0.05S' } });
    try {
      const w = await openSessionWorld(t.api);
      const order = await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.bread), quantity: '2' }]);
      await orderMutation(t.api, op.CONFIRM_PAYMENT, order.customerOrder!.id);
      t.clock.set(CLOSE);
      const completed = await waitFor('the session to complete', async () => {
        const view = await sessionView(t.api, w.session.id);
        return view.status === 'COMPLETED' ? view : undefined;
      });
      expect(completed.producerOrders[0]).toMatchObject({ orderState: 'COMPLETE', lines: [{ quantity: '2' }] });
    } finally {
      await t.stop();
    }
  });

  it('completes, when it starts, a session that closed while the server was down', async () => {
    const first = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    const w = await openSessionWorld(first.api);
    const order = await checkout(first.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '3' }]);
    await orderMutation(first.api, op.CONFIRM_PAYMENT, order.customerOrder!.id);
    await first.stop();

    first.clock.set('2026-11-24T07:00:00+01:00'); // the server was down from before the close until the next morning
    const second = await startTestApp({ databaseUrl: first.databaseUrl, clock: first.clock, env: { SCHEDULER_INTERVAL: 'PT1H' } });
    try {
      // No runOnce(): the scheduler's first tick at start does it.
      const view = await waitFor('the missed session to complete', async () => {
        const v = await sessionView(second.api, w.session.id);
        return v.status === 'COMPLETED' ? v : undefined;
      });
      expect(view.producerOrders[0]).toMatchObject({ orderState: 'COMPLETE', fulfilmentState: 'UNFULFILLED', lines: [{ quantity: '3' }] });
      await expectStockConsistent(second.db);
    } finally {
      await second.stop();
    }
  });

  it('completes each session exactly once with two servers on one database', async () => {
    const a = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    const b = await startTestApp({ databaseUrl: a.databaseUrl, clock: a.clock });
    try {
      const producer = await createProducer(a.api, 'Jean');
      const products = await Promise.all([1, 2, 3].map((i) => createProduct(a.api, producer, { name: `Veg ${i}`, onHand: '100' })));
      const sessions = [];
      for (let i = 0; i < 8; i += 1) {
        const session = await createSession(a.api, await createHub(a.api, `Hub ${i}`), { opensAt: '2026-11-23T08:00:00+01:00', closesAt: CLOSE, products });
        const order = await checkout(a.api, session.id, `c${i}`, products.map((p) => ({ offerId: session.offerFor(p), quantity: '1' })));
        await orderMutation(b.api, op.CONFIRM_PAYMENT, order.customerOrder!.id);
        sessions.push(session);
      }
      a.clock.set(CLOSE);
      await Promise.all([a.app.scheduler.runOnce(), b.app.scheduler.runOnce(), a.app.scheduler.runOnce(), b.app.scheduler.runOnce()]);

      for (const session of sessions) expect((await sessionView(a.api, session.id)).status).toBe('COMPLETED');
      const { rows } = await a.db.query("SELECT count(*)::int AS n FROM stock_movement WHERE kind = 'COMMIT'");
      expect(rows[0].n).toBe(8 * 3);
      for (const product of products) expect(await stockOf(a.api, product)).toEqual({ onHand: '100', held: '0', committed: '8', available: '92' });
      await expectStockConsistent(a.db);
    } finally {
      await b.stop();
      await a.stop();
    }
  });
});
