// How a subscriber leaves the event hub: a replay read that fails ends it on the server too, and
// live copies of events its replay already handed out never count against its buffer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkout } from '../support/scenarios.js';
import { RESERVATIONS, type ReservationEventShape, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { openSessionWorld } from '../support/world.js';

/** The newest position once every event written so far has one. */
const positioned = (t: TestApp) => waitFor('every event positioned', async () => {
  const { rows: [row] } = await t.db.query<{ pending: number; newest: string }>(
    'SELECT count(*) FILTER (WHERE position IS NULL)::int AS pending, coalesce(max(position), 0)::text AS newest FROM domain_event');
  return row!.pending === 0 ? row!.newest : undefined;
});

describe('a replay read that fails', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it('ends the subscription on the server as well as for the client', async () => {
    const w = await openSessionWorld(t.api);
    await positioned(t);
    const before = t.app.events.subscriberCount;
    // The database blips during the replay read (a failover): that one read fails.
    const hub = t.app.events as unknown as { readAfter: (...args: unknown[]) => Promise<unknown[]> };
    const readAfter = hub.readAfter.bind(hub);
    hub.readAfter = async () => {
      hub.readAfter = readAfter;
      throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
    };
    const failed = await subscribe<ReservationEventShape>(t.api, RESERVATIONS, { producerId: w.jean, after: '0' });
    await waitFor('the error', async () => (failed.errors.length > 0 ? true : undefined));
    expect(JSON.stringify(failed.errors)).toContain('SERVICE_UNAVAILABLE');
    await failed.close();
    // Nothing of it is left in the hub (graphql-ws calls no return() after an error): it would be
    // offered every event from now on, for as long as the process runs.
    expect(t.app.events.subscriberCount).toBe(before);
    // A subscription opened after it works, and leaves when its client does.
    const next = await subscribe<ReservationEventShape>(t.api, RESERVATIONS, { producerId: w.jean });
    await waitFor('the next subscription', async () => (t.app.events.subscriberCount === before + 1 ? true : undefined));
    await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
    await waitFor('its event', async () => (next.received.length > 0 ? true : undefined));
    await next.close();
    await waitFor('it to leave', async () => (t.app.events.subscriberCount === before ? true : undefined));
  });
});

describe('a subscriber that has caught up from the database', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { SUBSCRIPTION_BUFFER: '2' } });
  });
  afterAll(() => t.stop());

  it('is not cut off by live copies of the events its replay handed out', async () => {
    const w = await openSessionWorld(t.api);
    const before = await positioned(t);
    await waitFor('the hub to have handed out the set-up events', async () =>
      (BigInt((t.app.events as unknown as { lastPosition: string }).lastPosition) >= BigInt(before) ? true : undefined));
    // Another subscriber keeps the hub reading every event it is told of.
    const other = t.app.events.open({ filter: { producerId: w.jean } });
    // The hub's read of new events lags behind the database (a notification not yet handled).
    const hub = t.app.events as unknown as { deliverNewEvents: () => Promise<void> };
    const deliver = hub.deliverNewEvents.bind(hub);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    hub.deliverNewEvents = async () => {
      await gate;
      return deliver();
    };
    for (const quantity of ['1', '2', '3']) await checkout(t.api, w.session.id, `buys ${quantity}`, [{ offerId: w.session.offerFor(w.eggs), quantity }]);
    await positioned(t);
    // Three events from the database, more than its buffer of two holds; then it waits, caught up.
    const stream = t.app.events.open({ filter: { producerId: w.marie, kinds: ['HELD'] }, after: before });
    const replayed: string[] = [];
    for (let i = 0; i < 3; i += 1) replayed.push((await stream.next()).value!.quantity);
    expect(replayed).toEqual(['1.000', '2.000', '3.000']);
    const waiting = stream.next();
    // The hub catches up and hands out the same three, then a new one comes.
    hub.deliverNewEvents = deliver;
    release();
    await checkout(t.api, w.session.id, 'buys 4', [{ offerId: w.session.offerFor(w.eggs), quantity: '4' }]);
    expect((await waiting).value!.quantity).toBe('4.000');
    await stream.return!();
    await other.return!();
  });
});
