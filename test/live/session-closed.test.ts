import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { levelsLockedElsewhere, lockedElsewhere } from '../support/locked-elsewhere.js';
import { adjustStock, checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { AVAILABILITY, type AvailabilityEventShape, eventsHandedOut, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor, waitForLockWait } from '../support/wait.js';
import { openSessionWorld } from '../support/world.js';

const WITHDRAW = 'mutation ($input: OfferRefInput!) { withdrawOffer(input: $input) { userErrors { code } } }';
const UPDATE_SALES_SESSION = 'mutation ($input: UpdateSalesSessionInput!) { updateSalesSession(input: $input) { userErrors { code } } }';
const CANCEL_SALES_SESSION = 'mutation ($input: CancelSalesSessionInput!) { cancelSalesSession(input: $input) { userErrors { code } } }';

/**
 * A session closed early or cancelled stops selling at once (Offer.available reads 0): its
 * storefronts are told, one event for each offer on sale, and then hear nothing more of them. So
 * are they when its closesAt passes (the scheduler tells them), which the hub may have moved.
 */
describe('availabilityChanged when a session stops selling', () => {
  let t: TestApp;
  const closeEvents = async (salesSessionId: string) =>
    (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM domain_event WHERE kind = 'SESSION_CLOSED' AND sales_session_id = $1", [salesSessionId])).rows[0]!.n;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  /**
   * An open session with one offer withdrawn (the bread), its storefront subscribed, and the
   * storefront of another hub's session selling its carrots, which sees the carrots' later changes.
   */
  const watchedSession = async () => {
    const w = await openSessionWorld(t.api, { carrots: '10' });
    const withdrawn = w.session.offerFor(w.bread);
    expect((await t.api.data<{ withdrawOffer: { userErrors: unknown[] } }>(WITHDRAW, { input: { offerId: withdrawn } })).withdrawOffer.userErrors).toEqual([]);
    const other = await createSession(t.api, await createHub(t.api, 'Hub B'), {
      opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [w.carrots],
    });
    // The bread's withdrawal and the stock, handed out before the storefronts subscribe, are not theirs to get.
    await eventsHandedOut(t.app);
    const storefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: w.session.id });
    const otherStorefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: other.id });
    await waitFor('both subscriptions to start', async () => (t.app.events.subscriberCount >= 2 ? true : undefined));
    return { w, storefront, otherStorefront };
  };

  for (const [name, mutation] of [['cancelSalesSession', CANCEL_SALES_SESSION], ['closeSalesSession', op.CLOSE_SALES_SESSION]] as const) {
    it(`tells a subscribed storefront each offer on sale reads 0 after ${name}, and then nothing more of it`, async () => {
      const { w, storefront, otherStorefront } = await watchedSession();

      expect(await t.api.data(mutation, { input: { salesSessionId: w.session.id } })).toMatchObject({ [name]: { userErrors: [] } });
      const closed = await waitFor('an event for each offer on sale', async () => (storefront.received.length >= 2 ? storefront.received : undefined));
      expect(closed.map((e) => [e.offer.id, e.available, e.offer.available]).sort()).toEqual(
        [w.session.offerFor(w.carrots), w.session.offerFor(w.eggs)].map((offer) => [offer, '0', '0']).sort(),
      );

      // A later change of the carrots reaches the other hub's storefront, and not this one's.
      await adjustStock(t.api, w.carrots, '-1', 'bruised');
      await waitFor("the other storefront's event", async () => (otherStorefront.received.some((e) => e.available === '9') ? true : undefined));
      expect(storefront.received).toHaveLength(2);
      await Promise.all([storefront.close(), otherStorefront.close()]);
      await waitFor('both subscriptions to end', async () => (t.app.events.subscriberCount === 0 ? true : undefined));
    });
  }

  it('tells a subscribed storefront each offer reads 0 once a close the hub moved earlier passes, once, and then nothing more of it', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    // The storefront reads closesAt (20:00) and subscribes; the hub then moves the close to 09:30.
    const { w, storefront, otherStorefront } = await watchedSession();
    const moved = await t.api.data<{ updateSalesSession: { userErrors: unknown[] } }>(UPDATE_SALES_SESSION, {
      input: { salesSessionId: w.session.id, closesAt: '2026-11-23T09:30:00+01:00' },
    });
    expect(moved.updateSalesSession.userErrors).toEqual([]);
    await t.app.scheduler.runOnce();
    expect(await closeEvents(w.session.id)).toBe(0);

    // The moved close passes: the scheduler tells the storefront, whether or not the session completes.
    t.clock.set('2026-11-23T09:30:01+01:00');
    await t.app.scheduler.runOnce();
    const closed = await waitFor('an event for each offer on sale', async () => (storefront.received.length >= 2 ? storefront.received : undefined));
    expect(closed.map((e) => [e.offer.id, e.available]).sort()).toEqual(
      [w.session.offerFor(w.carrots), w.session.offerFor(w.eggs)].map((offer) => [offer, '0']).sort(),
    );
    // Once, however often the scheduler runs.
    await t.app.scheduler.runOnce();
    expect(await closeEvents(w.session.id)).toBe(2);

    // A later change of the carrots reaches the other hub's storefront, and neither this one's nor
    // that of its hub's backend subscribing after the close.
    const late = await subscribe<AvailabilityEventShape>(await t.as({ role: 'hub', hubId: w.hub }), AVAILABILITY, { salesSessionId: w.session.id });
    await waitFor('the late subscription to start', async () => (t.app.events.subscriberCount >= 3 ? true : undefined));
    await adjustStock(t.api, w.carrots, '-1', 'bruised');
    await waitFor("the other storefront's event", async () => (otherStorefront.received.some((e) => e.available === '9') ? true : undefined));
    expect({ storefront: storefront.received.length, late: late.received.length }).toEqual({ storefront: 2, late: 0 });
    await Promise.all([storefront.close(), otherStorefront.close(), late.close()]);
    await waitFor('the subscriptions to end', async () => (t.app.events.subscriberCount === 0 ? true : undefined));
  });

  it('replays a change from before an early close as 0, then the close', async () => {
    const w = await openSessionWorld(t.api, { carrots: '10' });
    const positioned = () => waitFor('every event positioned', async () =>
      ((await t.db.query('SELECT 1 FROM domain_event WHERE position IS NULL LIMIT 1')).rowCount === 0 ? true : undefined));
    await positioned();
    const { rows: [start] } = await t.db.query<{ position: string }>('SELECT max(position)::text AS position FROM domain_event');
    expect((await checkout(t.api, w.session.id, 'ana', [{ offerId: w.session.offerFor(w.carrots), quantity: '2' }])).userErrors).toEqual([]);
    await t.api.data(op.CLOSE_SALES_SESSION, { input: { salesSessionId: w.session.id } });
    await adjustStock(t.api, w.carrots, '-1', 'bruised');
    await positioned();

    // Closed, the session is no longer the public catalogue's: its hub's storefront backend reads it.
    const replay = await subscribe<AvailabilityEventShape>(await t.as({ role: 'hub', hubId: w.hub }), AVAILABILITY, { salesSessionId: w.session.id, after: start!.position });
    const received = await waitFor('the replay', async () => (replay.received.length >= 4 ? replay.received : undefined));
    const carrots = w.session.offerFor(w.carrots);
    // The hold, read as the session is now (closed), then the close of each offer on sale.
    expect(received[0]).toMatchObject({ offer: { id: carrots }, available: '0' });
    expect(received.slice(1).map((e) => [e.offer.id, e.available]).sort()).toEqual(
      [carrots, w.session.offerFor(w.eggs), w.session.offerFor(w.bread)].map((offer) => [offer, '0']).sort(),
    );
    await replay.close();
  });

  it('sends nothing for a session cancelled after it closed early: its storefronts were told then', async () => {
    const w = await openSessionWorld(t.api);
    await t.api.data(op.CLOSE_SALES_SESSION, { input: { salesSessionId: w.session.id } });
    await t.api.data(CANCEL_SALES_SESSION, { input: { salesSessionId: w.session.id } });
    const { rows } = await t.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM domain_event WHERE kind = 'SESSION_CLOSED' AND sales_session_id = $1", [w.session.id]);
    expect(rows[0]!.n).toBe(3);
  });

  it('sends nothing more of the closed offers to a storefront subscribing after the close', async () => {
    const w = await openSessionWorld(t.api, { carrots: '10' });
    const other = await createSession(t.api, await createHub(t.api, 'Hub B'), {
      opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [w.carrots],
    });
    expect(await t.api.data(op.CLOSE_SALES_SESSION, { input: { salesSessionId: w.session.id } })).toMatchObject({ closeSalesSession: { userErrors: [] } });
    await waitFor('every event positioned', async () =>
      ((await t.db.query('SELECT 1 FROM domain_event WHERE position IS NULL LIMIT 1')).rowCount === 0 ? true : undefined));
    const { rows: [closedAt] } = await t.db.query<{ position: string }>(
      "SELECT max(position)::text AS position FROM domain_event WHERE kind = 'SESSION_CLOSED' AND sales_session_id = $1", [w.session.id]);

    // Closed, the session is no longer the public catalogue's: a visitor without a token is told
    // there is none, and its hub's storefront backend subscribes.
    const visitor = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: w.session.id });
    const refused = await waitFor('the refusal', async () => visitor.errors[0] as { message?: unknown } | undefined);
    expect(JSON.stringify(refused)).toContain(`no sales session with id`);
    await visitor.close();
    const asHub = await t.as({ role: 'hub', hubId: w.hub });
    // The close's events, positioned but perhaps not yet handed out, are not the live stream's to get.
    await eventsHandedOut(t.app);
    const live = await subscribe<AvailabilityEventShape>(asHub, AVAILABILITY, { salesSessionId: w.session.id });
    const resumed = await subscribe<AvailabilityEventShape>(asHub, AVAILABILITY, { salesSessionId: w.session.id, after: closedAt!.position });
    const otherStorefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: other.id });
    await waitFor('the subscriptions to start', async () => (t.app.events.subscriberCount >= 3 ? true : undefined));

    await adjustStock(t.api, w.carrots, '-1', 'bruised');
    await waitFor("the other storefront's event", async () => (otherStorefront.received.some((e) => e.available === '9') ? true : undefined));
    // The same event was offered to all three subscribers of this replica, in position order.
    expect({ live: live.received.map((e) => e.available), resumed: resumed.received.map((e) => e.available) }).toEqual({ live: [], resumed: [] });
    await Promise.all([live.close(), resumed.close(), otherStorefront.close()]);
  });

  // Every writer locks stock levels in (product, lock_seq) order: a cancel's close events and its
  // release of a withdrawn offer's hold must not take a later product's level before an earlier one's.
  it('cancels without deadlocking with a close of another session selling the same products, a withdrawn offer holding the first', async () => {
    const farm = await createProducer(t.api, 'Farm');
    const [low, high] = [
      await createProduct(t.api, farm, { name: 'Leeks', onHand: '10' }),
      await createProduct(t.api, farm, { name: 'Kale', onHand: '10' }),
    ].sort();
    const times = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00' };
    const a = await createSession(t.api, await createHub(t.api, 'Hub A'), { ...times, products: [low!, high!] });
    const b = await createSession(t.api, await createHub(t.api, 'Hub B'), { ...times, products: [low!, high!] });
    // Session A holds some of the product that sorts first, then its hub withdraws that offer (orders keep their lines).
    expect((await checkout(t.api, a.id, 'ana', [{ offerId: a.offerFor(low!), quantity: '2' }])).userErrors).toEqual([]);
    expect((await t.api.data<{ withdrawOffer: { userErrors: unknown[] } }>(WITHDRAW, { input: { offerId: a.offerFor(low!) } })).withdrawOffer.userErrors).toEqual([]);

    const levels = await levelsLockedElsewhere(t.db, low!);
    // Hub B closes early: it locks both products' levels in order, and waits at the first.
    const closeB = t.api.request(op.CLOSE_SALES_SESSION, { input: { salesSessionId: b.id } });
    await waitForLockWait(t.db, 'the close of B to wait for the first product');
    // Hub A cancels: it locks the later product (its offer on sale), then the first (the held order's).
    const cancelA = t.api.request(CANCEL_SALES_SESSION, { input: { salesSessionId: a.id } });
    await waitForLockWait(t.db, 'the cancel of A to wait too', 2);
    await levels.release();

    const [closed, cancelled] = await Promise.all([closeB, cancelA]);
    // Each waits for the other; neither is chosen as a deadlock's victim.
    expect(closed.errors).toBeUndefined();
    expect(cancelled.errors).toBeUndefined();
  });

  /** A session announced closed by the scheduler at 20:00:01, still waiting for a payment (not completed). */
  async function announced() {
    t.clock.set('2026-11-23T19:59:00+01:00');
    const w = await openSessionWorld(t.api, { carrots: '10' });
    expect((await checkout(t.api, w.session.id, 'late payer', [{ offerId: w.session.offerFor(w.eggs), quantity: '1' }])).userErrors).toEqual([]);
    t.clock.set('2026-11-23T20:00:01+01:00');
    await t.app.scheduler.runOnce();
    expect(await closeEvents(w.session.id)).toBe(3);
    const { rows: [s] } = await t.db.query('SELECT completed_at, close_announced_at FROM sales_session WHERE id = $1', [w.session.id]);
    expect(s).toMatchObject({ completed_at: null, close_announced_at: expect.any(Date) });
    // The hub's request reaches a replica whose clock reads a second earlier (replicas' clocks differ).
    t.clock.set('2026-11-23T19:59:59.500+01:00');
    return w;
  }

  it('does not tell the storefronts twice when the hub then closes or cancels the session on a replica whose clock is behind', async () => {
    const w = await announced();
    await t.api.data(op.CLOSE_SALES_SESSION, { input: { salesSessionId: w.session.id } });
    expect(await closeEvents(w.session.id)).toBe(3);
    expect(await t.api.data(CANCEL_SALES_SESSION, { input: { salesSessionId: w.session.id } })).toEqual({ cancelSalesSession: { userErrors: [] } });
    expect(await closeEvents(w.session.id)).toBe(3);
  });

  it('keeps a session whose close was announced closed on a replica whose clock is behind: no reschedule, no checkout', async () => {
    const w = await announced();
    const before = (await t.db.query('SELECT closes_at FROM sales_session WHERE id = $1', [w.session.id])).rows[0];
    const moved = await t.api.data<{ updateSalesSession: { userErrors: { code: string }[] } }>(UPDATE_SALES_SESSION, {
      input: { salesSessionId: w.session.id, closesAt: '2026-11-23T21:00:00+01:00' },
    });
    expect(moved.updateSalesSession.userErrors).toMatchObject([{ code: 'INVALID_STATE' }]);
    expect((await t.db.query('SELECT closes_at FROM sales_session WHERE id = $1', [w.session.id])).rows[0]).toEqual(before);
    expect((await checkout(t.api, w.session.id, 'ana', [{ offerId: w.session.offerFor(w.carrots), quantity: '2' }])).userErrors)
      .toMatchObject([{ code: 'SESSION_NOT_OPEN' }]);
    const status = await t.api.data<{ salesSession: { status: string } }>('query ($id: ID!) { salesSession(id: $id) { status } }', { id: w.session.id });
    expect(status.salesSession.status).toBe('CLOSED');
    // Nor is it, or what it offered, the public catalogue's any more.
    const visitor = await (await t.as()).data<{ salesSession: unknown; product: unknown; hub: { salesSessions: unknown[] } }>(
      'query ($s: ID!, $p: ID!, $h: ID!) { salesSession(id: $s) { id } product(id: $p) { id } hub(id: $h) { salesSessions { id } } }',
      { s: w.session.id, p: w.carrots, h: w.hub },
    );
    expect(visitor).toEqual({ salesSession: null, product: null, hub: { salesSessions: [] } });
  });
  it('places no order, after the close was announced, for a checkout read just before on a replica whose clock is behind', async () => {
    t.clock.set('2026-11-23T19:59:00+01:00');
    const w = await openSessionWorld(t.api, { carrots: '10' });
    // An order before: the producer's order in the session exists, as it does once a session sells.
    expect((await checkout(t.api, w.session.id, 'early', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }])).userErrors).toEqual([]);
    const stock = async () => (await t.db.query<{ held: string }>('SELECT sum(held)::text AS held FROM stock_level WHERE product_id = $1', [w.carrots])).rows[0]!.held;
    const heldBefore = await stock();
    // The session row is busy a moment (as under load), so that the statements of the two
    // replicas meet: the scheduler's announcement waits for it first, then the late checkout.
    const row = await lockedElsewhere(t.db, 'SELECT 1 FROM sales_session WHERE id = $1 FOR UPDATE', [w.session.id]);
    t.clock.set('2026-11-23T20:00:01+01:00');
    const announcing = t.app.scheduler.runOnce();
    await waitForLockWait(t.db, 'the announcement to wait for the session');
    // The checkout reaches a replica whose clock reads two seconds earlier: open, by that clock.
    t.clock.set('2026-11-23T19:59:59+01:00');
    const late = checkout(t.api, w.session.id, 'late', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
    await waitForLockWait(t.db, 'the checkout to wait for it too', 2);
    await row.release();
    await announcing;
    const answer = await late;
    expect(await closeEvents(w.session.id)).toBeGreaterThan(0);
    expect({ errors: answer.userErrors.map((e) => e.code), order: answer.customerOrder ?? null, held: await stock() })
      .toEqual({ errors: ['SESSION_NOT_OPEN'], order: null, held: heldBefore });
  });
});
