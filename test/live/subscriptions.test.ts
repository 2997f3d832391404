import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { adjustStock, checkout, createHub, createProducer, createProduct, createSession, orderMutation } from '../support/scenarios.js';
import {
  AVAILABILITY,
  type AvailabilityEventShape,
  eventsHandedOut,
  RESERVATIONS,
  type ReservationEventShape,
  subscribe,
} from '../support/subscriptions.js';
import { GraphQLClient } from '../support/graphql.js';
import { spawnServer, type ServerProcess } from '../support/server-process.js';
import { startTestApp, TEST_JWT_SECRET, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { openSessionWorld } from '../support/world.js';

describe('live reservations and availability', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  beforeEach(() => t.clock.set('2026-11-23T09:00:00+01:00'));
  afterAll(() => t.stop());

  /** Waits until the server has registered `count` subscriptions, so live events cannot be missed. */
  const subscribed = (count: number) => waitFor('the subscription to register', async () => (t.app.events.subscriberCount >= count ? true : undefined));

  it('streams exactly the committed reservation events, in order, and none from a rolled-back checkout', async () => {
    const w = await openSessionWorld(t.api);
    const sub = await subscribe<ReservationEventShape>(t.api, RESERVATIONS, { producerId: w.jean });
    await subscribed(1);

    const first = await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '2' }]);
    // A checkout that records its hold and then rolls back: the real hold, in a transaction that fails.
    await expect(
      t.app.orm.em.fork().transactional(async (em) => {
        const [po] = await em.execute('SELECT id FROM producer_order WHERE producer_id = ?', [w.jean]);
        await t.app.services.stock.hold(em, t.clock.now(), randomUUID(), [
          { productId: w.carrots, quantity: new Decimal(3), producerOrderId: po.id, field: [] },
        ]);
        throw new Error('payment provider said no before commit');
      }),
    ).rejects.toThrow('payment provider');
    await orderMutation(t.api, op.FAIL_PAYMENT, first.customerOrder!.id);
    const second = await checkout(t.api, w.session.id, 'paul', [{ offerId: w.session.offerFor(w.carrots), quantity: '1.5' }]);
    await orderMutation(t.api, op.CONFIRM_PAYMENT, second.customerOrder!.id);
    t.clock.set('2026-11-23T20:00:00+01:00');
    await t.app.scheduler.runOnce();

    const events = await sub.waitForCount(4);
    expect(events.map((e) => [e.kind, e.quantity])).toEqual([
      ['HELD', '2'],
      ['RELEASED', '2'],
      ['HELD', '1.5'],
      ['COMPLETED', '1.5'],
    ]);
    const ids = events.map((e) => BigInt(e.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    expect(events[3]!.producerOrder).toMatchObject({ orderState: 'COMPLETE', lines: [{ quantity: '1.5' }] });
    expect(events.every((e) => e.product.id === w.carrots)).toBe(true);
    // The log holds exactly these four reservation events: the rolled-back hold left no event to deliver, ever.
    const { rows } = await t.db.query(
      "SELECT kind, quantity::text FROM domain_event WHERE producer_id = $1 AND kind IN ('HELD', 'RELEASED', 'COMPLETED') ORDER BY position", [w.jean]);
    expect(rows.map((r) => [r.kind, r.quantity])).toEqual([['HELD', '2.000'], ['RELEASED', '2.000'], ['HELD', '1.500'], ['COMPLETED', '1.500']]);
    expect(sub.received).toHaveLength(4);
    expect(sub.errors).toEqual([]);
    await sub.close();
  });

  it("pushes a checkout at one hub to another hub's storefront", async () => {
    const w = await openSessionWorld(t.api, { carrots: '10' });
    const hubB = await createSession(t.api, await createHub(t.api, 'Hub B'), {
      opensAt: '2026-11-23T07:00:00+01:00',
      closesAt: '2026-11-23T20:00:00+01:00',
      products: [w.carrots],
    });
    // The setup's own stock events, handed out before the storefront subscribes (positioned is not
    // enough: a live stream starts where this replica stands), are not the storefront's to get.
    await eventsHandedOut(t.app);
    const before = t.app.events.subscriberCount;
    const sub = await subscribe<AvailabilityEventShape>(t.api, AVAILABILITY, { salesSessionId: hubB.id });
    await subscribed(before + 1);

    await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '4' }]);
    await adjustStock(t.api, w.carrots, '-1', 'dropped a crate');
    const events = await sub.waitForCount(2);
    expect(events.map((e) => [e.offer.id, e.available])).toEqual([
      [hubB.offerFor(w.carrots), '6'],
      [hubB.offerFor(w.carrots), '5'],
    ]);
    await sub.close();
  });

  it('forgets a subscriber as soon as its client leaves, even in a session where nothing changes', async () => {
    const w = await openSessionWorld(t.api, { carrots: '10' });
    await waitFor('the setup events to be delivered', async () =>
      (await t.db.query('SELECT 1 FROM domain_event WHERE position IS NULL LIMIT 1')).rowCount === 0 ? true : undefined,
    );
    const before = t.app.events.subscriberCount;
    const storefront = await t.as();
    const settled = [];
    for (let i = 0; i < 3; i += 1) settled.push(await subscribe<AvailabilityEventShape>(storefront, AVAILABILITY, { salesSessionId: w.session.id }));
    settled.push(await subscribe<ReservationEventShape>(t.api, RESERVATIONS, { producerId: w.jean }));
    await subscribed(before + 4);
    // Two more leave while the server may still be reading the session's offers.
    const hasty = [0, 1].map(() => subscribe<AvailabilityEventShape>(storefront, AVAILABILITY, { salesSessionId: w.session.id }));
    for (const sub of [...settled, ...(await Promise.all(hasty))]) await sub.close();
    // No event comes for these products: leaving alone must end the server's side.
    await waitFor('every subscription to be forgotten', async () => (t.app.events.subscriberCount === before ? true : undefined));
    expect(t.app.events.subscriberCount).toBe(before);
  });

  it('replays what a reconnecting client missed, in order, then continues live', async () => {
    const w = await openSessionWorld(t.api);
    const sub = await subscribe<ReservationEventShape>(t.api, RESERVATIONS, { producerId: w.marie, after: '0' });
    await checkout(t.api, w.session.id, 'a', [{ offerId: w.session.offerFor(w.eggs), quantity: '1' }]);
    const [seen] = await sub.waitForCount(1);
    await sub.close();

    // While disconnected:
    await checkout(t.api, w.session.id, 'b', [{ offerId: w.session.offerFor(w.eggs), quantity: '2' }]);
    await checkout(t.api, w.session.id, 'c', [{ offerId: w.session.offerFor(w.bread), quantity: '3' }]);

    const resumed = await subscribe<ReservationEventShape>(t.api, RESERVATIONS, { producerId: w.marie, after: seen!.id });
    await resumed.waitForCount(2);
    await checkout(t.api, w.session.id, 'd', [{ offerId: w.session.offerFor(w.eggs), quantity: '4' }]);
    const events = await resumed.waitForCount(3);
    expect(events.map((e) => e.quantity)).toEqual(['2', '3', '4']);
    expect(BigInt(events[0]!.id)).toBeGreaterThan(BigInt(seen!.id));
    await resumed.close();
  });

  it('refuses a malformed `after` or an unknown session with a typed error', async () => {
    const bad = await subscribe<unknown>(t.api, RESERVATIONS, { producerId: randomUUID(), after: 'yesterday' });
    await waitFor('an error', async () => (bad.errors.length > 0 ? true : undefined));
    expect(JSON.stringify(bad.errors)).toContain('`after` must be the id of an earlier event');
    await bad.close();
    // An id no event has had yet: another environment's, or one from before a restore.
    const { rows: [{ newest }] } = await t.db.query<{ newest: string }>('SELECT coalesce(max(position), 0)::text AS newest FROM domain_event');
    const w = await openSessionWorld(t.api);
    const future = await subscribe<unknown>(t.api, RESERVATIONS, { producerId: w.jean, after: String(BigInt(newest) + 1000n) });
    await waitFor('an error', async () => (future.errors.length > 0 ? true : undefined));
    expect(JSON.stringify(future.errors)).toContain('`after` must be the id of an earlier event');
    await future.close();
    const unknown = await subscribe<unknown>(t.api, AVAILABILITY, { salesSessionId: randomUUID() });
    await waitFor('an error', async () => (unknown.errors.length > 0 ? true : undefined));
    expect(JSON.stringify(unknown.errors)).toContain('no sales session');
    await unknown.close();
  });

  it("replays to a session's subscriber its products' changes since the session was created, not their history before", async () => {
    const farm = await createProducer(t.api, 'Quiet farm');
    // The producer's own figures while the product was offered nowhere: Product.stock is theirs.
    const truffles = await createProduct(t.api, farm, { name: 'Truffles', onHand: '7' });
    await adjustStock(t.api, truffles, '5');
    await adjustStock(t.api, truffles, '-3');
    // The session's replay starts after the events positioned when it is made (positions come a
    // moment after each commit: a change committed just before may be replayed too).
    await eventsHandedOut(t.app);
    t.clock.advance({ minutes: 5 });
    const session = await createSession(t.api, await createHub(t.api, 'Truffle Hub'), {
      opensAt: '2026-11-30T07:00:00+01:00', closesAt: '2026-12-01T20:00:00+01:00', products: [truffles],
    });
    await adjustStock(t.api, truffles, '1');
    const sub = await subscribe<{ available: string }>(await t.as(), AVAILABILITY, { salesSessionId: session.id, after: '0' });
    try {
      // Replayed first, in order: had the history been replayed, 7, 12 and 9 would come before.
      expect((await sub.waitForCount(1)).map((e) => e.available)).toEqual(['10']);
      await adjustStock(t.api, truffles, '2');
      expect((await sub.waitForCount(2)).map((e) => e.available)).toEqual(['10', '12']);
    } finally {
      await sub.close();
    }
  });

  it('hands out nothing more once a subscription is ended during its replay, neither the rest of the replay nor live events', async () => {
    const w = await openSessionWorld(t.api, { carrots: '1000' });
    for (let i = 0; i < 5; i += 1) await checkout(t.api, w.session.id, `c${i}`, [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
    await waitFor('the holds to be positioned', async () =>
      ((await t.db.query('SELECT 1 FROM domain_event WHERE position IS NULL')).rowCount === 0 ? true : undefined));
    // What graphql-ws does when the client completes the subscription (or leaves): return().
    const replay = t.app.events.open({ filter: { producerId: w.jean }, after: '0' });
    expect((await replay.next()).done).toBe(false);
    await replay.return!();
    await checkout(t.api, w.session.id, 'late', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
    expect(await replay.next()).toEqual({ done: true, value: undefined });
  });
});

describe('a subscriber that does not keep up', () => {
  // Subscribers here may queue two live events.
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { SUBSCRIPTION_BUFFER: '2' } });
  });
  afterAll(() => t.stop());

  /** Every event so far positioned (so delivered to the subscribers there were): the newest one's id. */
  const settled = () => waitFor('the events so far to be positioned', async () => {
    const { rows: [row] } = await t.db.query<{ pending: number; newest: string }>(
      'SELECT count(*) FILTER (WHERE position IS NULL)::int AS pending, max(position)::text AS newest FROM domain_event');
    return row!.pending === 0 ? row!.newest : undefined;
  });
  /** Every event so far positioned and handed out by the hub (its own mark, private): a stream opened now starts after them. */
  const handedOut = async () => {
    const newest = BigInt(await settled());
    await waitFor('the hub to hand them out', async () => (BigInt((t.app.events as unknown as { lastPosition: string }).lastPosition) >= newest ? true : undefined));
  };
  // Events as stored: quantities as PostgreSQL writes them ("2.000").
  const quantityOf = (next: IteratorResult<{ quantity: string }>) => new Decimal(next.value.quantity).toFixed();
  const buyEggs = (w: Awaited<ReturnType<typeof openSessionWorld>>, quantity: string) =>
    checkout(t.api, w.session.id, `q${quantity}`, [{ offerId: w.session.offerFor(w.eggs), quantity }]);
  /** A subscriber reading along: once it has `count` events, the hub has handed them to every subscriber. */
  const readAlong = (stream: AsyncIterableIterator<{ quantity: string }>, count: number) => (async () => {
    const read: string[] = [];
    while (read.length < count) read.push(quantityOf(await stream.next()));
    return read;
  })();

  it('is cut off with a reason, and can resume from where it stopped', async () => {
    const w = await openSessionWorld(t.api);
    // Marie's setup events (her stock) are handed out before this subscriber comes.
    await handedOut();
    const stream = t.app.events.open({ filter: { producerId: w.marie } });
    const first = stream.next(); // the client asks once, then reads no more
    for (const quantity of ['1', '2', '3', '4']) await buyEggs(w, quantity);
    await waitFor('the subscriber to be cut off', async () => (t.app.events.subscriberCount === 0 ? true : undefined));
    const { value: read } = await first;
    expect(quantityOf({ done: false, value: read! })).toBe('1');
    await expect(stream.next()).rejects.toThrow(
      `the subscriber fell too far behind and was disconnected; subscribe again with after: "${read!.position}" to resume`,
    );
    const resumed = t.app.events.open({ filter: { producerId: w.marie }, after: read!.position });
    const missed = [];
    for (let i = 0; i < 3; i += 1) missed.push(quantityOf(await resumed.next()));
    expect(missed).toEqual(['2', '3', '4']);
    await resumed.return?.();
  });

  it('is not cut off before it first reads: what it could not queue meanwhile is read back', async () => {
    const w = await openSessionWorld(t.api);
    await handedOut();
    // Opened, not read yet (a subscription still being set up, its session's offers being read).
    const stream = t.app.events.open({ filter: { producerId: w.marie } });
    for (const quantity of ['1', '2', '3']) await buyEggs(w, quantity);
    // Handed to it by the hub: one more than it may queue.
    await handedOut();
    const all = [];
    for (let i = 0; i < 3; i += 1) all.push(quantityOf(await stream.next()));
    expect(all).toEqual(['1', '2', '3']);
    await stream.return?.();
  });

  it('is not cut off while it catches up, however busy the live stream: it reads what it missed from the database', async () => {
    const w = await openSessionWorld(t.api);
    const before = await settled();
    await buyEggs(w, '1');
    await settled();
    // Resuming from before the first hold: one event read, then more live ones than it may queue.
    const catchingUp = t.app.events.open({ filter: { producerId: w.marie, kinds: ['HELD'] }, after: before });
    expect(quantityOf(await catchingUp.next())).toBe('1');
    const watcher = t.app.events.open({ filter: { producerId: w.marie, kinds: ['HELD'] } });
    const watched = readAlong(watcher, 4);
    for (const quantity of ['2', '3', '4', '5']) await buyEggs(w, quantity);
    expect(await watched).toEqual(['2', '3', '4', '5']);
    await watcher.return!();

    const rest = [];
    for (let i = 0; i < 4; i += 1) rest.push(quantityOf(await catchingUp.next()));
    expect(rest).toEqual(['2', '3', '4', '5']);
    // Caught up: live from here.
    await buyEggs(w, '6');
    expect(quantityOf(await catchingUp.next())).toBe('6');
    await catchingUp.return!();
  });

  it('reads again at once when live events were let go during a replay read that found nothing', async () => {
    const w = await openSessionWorld(t.api);
    const at = await settled();
    const watcher = t.app.events.open({ filter: { producerId: w.marie, kinds: ['HELD'] } });
    // The interleaving: the subscriber's first replay read finds nothing, and while it is in
    // flight three holds commit and are offered live, more than it may queue, so they are let go.
    const hub = t.app.events as unknown as { readAfter: (...args: unknown[]) => Promise<unknown[]> };
    const readAfter = hub.readAfter.bind(hub);
    let reads = 0;
    hub.readAfter = async (...args: unknown[]) => {
      const page = await readAfter(...args);
      reads += 1;
      if (reads === 1) {
        const watched = readAlong(watcher, 3);
        for (const quantity of ['1', '2', '3']) await buyEggs(w, quantity);
        await watched;
      }
      return page;
    };
    try {
      const catchingUp = t.app.events.open({ filter: { producerId: w.marie, kinds: ['HELD'] }, after: at });
      // Nothing more happens: the three holds must come from the database, not wait for a fourth.
      const got = [];
      for (let i = 0; i < 3; i += 1) got.push(quantityOf(await catchingUp.next()));
      expect(got).toEqual(['1', '2', '3']);
      await catchingUp.return!();
    } finally {
      hub.readAfter = readAfter;
      await watcher.return!();
    }
  });
});

describe('across server processes', () => {
  let t: TestApp;
  let other: ServerProcess | undefined;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(async () => {
    other?.child.kill('SIGTERM');
    await other?.exited;
    await t.stop();
  });

  it('delivers a checkout taken by one server to a subscriber on another', async () => {
    other = await spawnServer({ DATABASE_URL: t.databaseUrl, NODE_ENV: 'production', JWT_SECRET: TEST_JWT_SECRET });
    const w = await openSessionWorld(t.api);
    const sub = await subscribe<ReservationEventShape>(new GraphQLClient(other.url, t.api.token), RESERVATIONS, { producerId: w.jean, after: '0' });
    await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '2.25' }]);
    const [event] = await sub.waitForCount(1);
    expect(event).toMatchObject({ kind: 'HELD', quantity: '2.25', product: { id: w.carrots } });
    await sub.close();
  });
});
