// A subscription resuming with `after` once retention has forgotten events after it is refused,
// rather than replaying the rest as if nothing were missing (issue 3: "reconnect with after loses
// nothing"); one resuming after what is still kept replays it all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjustStock, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { AVAILABILITY, type AvailabilityEventShape, RESERVATIONS, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

describe('resuming once retention has forgotten events', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { EVENT_RETENTION: 'P1D' } });
  });
  afterAll(() => t.stop());

  const positioned = () =>
    waitFor('every event positioned', async () => ((await t.db.query('SELECT 1 FROM domain_event WHERE position IS NULL LIMIT 1')).rowCount === 0 ? true : undefined));

  /** The events a storefront resuming after `after` is sent, or the error it gets. */
  async function resume(salesSessionId: string, after: string, count: number): Promise<{ available: string[]; errors: string }> {
    const resumed = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId, after });
    try {
      await waitFor('the replay or an error', async () => (resumed.received.length >= count || resumed.errors.length > 0 ? true : undefined));
      return { available: resumed.received.map((e) => e.available), errors: JSON.stringify(resumed.errors) };
    } finally {
      await resumed.close();
    }
  }

  it('refuses an `after` whose next events are forgotten, and replays all after one whose next events are kept', async () => {
    const farm = await createProducer(t.api, 'Farm');
    const leeks = await createProduct(t.api, farm, { name: 'Leeks', onHand: '10' });
    const session = await createSession(t.api, await createHub(t.api, 'Hub'), {
      opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-12-31T20:00:00+01:00', products: [leeks],
    });
    // The storefront sees 11 and goes offline; 12, 14 and 17 follow; then a quiet spell longer than retention.
    const live = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: session.id, after: '0' });
    await adjustStock(t.api, leeks, '1');
    const [seen] = await live.waitForCount(1);
    expect(seen!.available).toBe('11');
    await live.close();
    for (const delta of ['1', '2', '3']) await adjustStock(t.api, leeks, delta);
    await positioned();
    t.clock.advance({ days: 3 });
    await t.app.scheduler.runOnce();
    await adjustStock(t.api, leeks, '4'); // 21
    await positioned();
    // 12 and 14 are forgotten; 17 is kept (the newest always is).
    const kept = await t.db.query<{ position: string }>('SELECT position::text FROM domain_event WHERE product_id = $1 ORDER BY position', [leeks]);
    expect(kept.rows).toHaveLength(2);

    const afterSeen = await resume(session.id, seen!.id, 1);
    expect(afterSeen.available).toEqual([]);
    expect(afterSeen.errors).toContain(`the events after ${seen!.id} are no longer all kept (EVENT_RETENTION)`);
    expect(afterSeen.errors).toContain('BAD_USER_INPUT');
    // So are the other streams.
    const reservations = await subscribe<unknown>(t.api, RESERVATIONS, { producerId: farm, after: seen!.id });
    await waitFor('an error', async () => (reservations.errors.length > 0 ? true : undefined));
    expect(JSON.stringify(reservations.errors)).toContain('are no longer all kept');
    await reservations.close();

    // After 17, nothing is missing; "0" asks for all there is: what is kept.
    expect(await resume(session.id, kept.rows[0]!.position, 1)).toEqual({ available: ['21'], errors: '[]' });
    expect(await resume(session.id, '0', 2)).toEqual({ available: ['17', '21'], errors: '[]' });
  });

  it("resumes a stream none of whose own events were forgotten, while others' were: a producer quiet for longer than the retention", async () => {
    const busy = await createProducer(t.api, 'Busy farm');
    const quiet = await createProducer(t.api, 'Quiet farm');
    const leeks = await createProduct(t.api, busy, { name: 'Leeks', onHand: '10' });
    const kale = await createProduct(t.api, quiet, { name: 'Kale', onHand: '10' });
    const hub = await createHub(t.api, 'Hub');
    const times = { opensAt: t.clock.now().toISOString(), closesAt: new Date(t.clock.now().getTime() + 30 * 86_400_000).toISOString() };
    const kaleSession = await createSession(t.api, hub, { ...times, products: [kale] });
    const leekSession = await createSession(t.api, hub, { ...times, products: [leeks] });
    // Each storefront sees its product's change and goes offline; only the leeks change after that.
    const kaleLive = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: kaleSession.id });
    const leekLive = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: leekSession.id });
    await waitFor('both subscriptions to start', async () => (t.app.events.subscriberCount >= 2 ? true : undefined));
    await adjustStock(t.api, kale, '1');
    await adjustStock(t.api, leeks, '1');
    const [kaleSeen] = await kaleLive.waitForCount(1);
    const [leekSeen] = await leekLive.waitForCount(1);
    await Promise.all([kaleLive.close(), leekLive.close()]);
    for (const delta of ['1', '2']) await adjustStock(t.api, leeks, delta);
    await positioned();
    t.clock.advance({ days: 3 });
    await t.app.scheduler.runOnce();
    await adjustStock(t.api, leeks, '3');
    await positioned();
    // The kale's change is forgotten, and the leeks' first two (the newest is kept, as always).
    const { rows: kept } = await t.db.query<{ product_id: string }>('SELECT product_id FROM domain_event WHERE product_id = ANY($1)', [[kale, leeks]]);
    expect(kept.map((e) => e.product_id)).toEqual([leeks, leeks]);

    // The kale's storefront missed nothing of its own: it resumes, and hears the next change.
    const kaleResumed = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: kaleSession.id, after: kaleSeen!.id });
    await adjustStock(t.api, kale, '-2');
    const [next] = await kaleResumed.waitForCount(1);
    expect({ available: next!.available, errors: kaleResumed.errors }).toEqual({ available: '9', errors: [] });
    await kaleResumed.close();
    // Nor did the quiet producer's reservations, even from the leeks' id; the busy farm's did miss some.
    const quietReservations = await subscribe<unknown>(t.api, RESERVATIONS, { producerId: quiet, after: leekSeen!.id });
    const busyReservations = await subscribe<unknown>(t.api, RESERVATIONS, { producerId: busy, after: leekSeen!.id });
    const leekResumed = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: leekSession.id, after: leekSeen!.id });
    await waitFor('the refusals', async () => (busyReservations.errors.length > 0 && leekResumed.errors.length > 0 ? true : undefined));
    expect(JSON.stringify([busyReservations.errors, leekResumed.errors])).toMatch(/no longer all kept.*no longer all kept/);
    await waitFor('the quiet stream to be open', async () => (t.app.events.subscriberCount >= 1 ? true : undefined));
    expect(quietReservations.errors).toEqual([]);
    await Promise.all([quietReservations.close(), busyReservations.close(), leekResumed.close()]);
  });

  it("counts what a previous-version replica forgot, which records no owner's mark, for every stream, also after the next pass", async () => {
    const quiet = await createProducer(t.api, 'Quieter farm');
    const kale = await createProduct(t.api, quiet, { name: 'Kale', onHand: '10' });
    const other = await createProducer(t.api, 'Other farm');
    const beans = await createProduct(t.api, other, { name: 'Beans', onHand: '10' });
    await adjustStock(t.api, kale, '1');
    await adjustStock(t.api, beans, '1');
    await adjustStock(t.api, beans, '1');
    await positioned();
    const { rows: [seen] } = await t.db.query<{ position: string }>('SELECT max(position)::text AS position FROM domain_event WHERE product_id = $1', [kale]);
    // A replica of the version before forgets the kale's next change and records only the log's mark.
    await adjustStock(t.api, kale, '2');
    await positioned();
    const { rows: [lost] } = await t.db.query<{ position: string }>('SELECT max(position)::text AS position FROM domain_event WHERE product_id = $1', [kale]);
    await adjustStock(t.api, beans, '1'); // for this version's next pass to forget
    await adjustStock(t.api, beans, '1'); // the newest, kept
    await positioned();
    await t.db.query('DELETE FROM domain_event WHERE position <= $1', [lost!.position]);
    await t.db.query('UPDATE pruned_events SET through_position = greatest(through_position, $1)', [lost!.position]);

    const resumeKale = async () => {
      const stream = await subscribe<unknown>(t.api, RESERVATIONS, { producerId: quiet, after: seen!.position });
      try {
        return await waitFor('an error or the stream to open', async () =>
          (stream.errors.length > 0 ? JSON.stringify(stream.errors) : t.app.events.subscriberCount >= 1 ? 'open' : undefined));
      } finally {
        await stream.close();
        await waitFor('the stream to end', async () => (t.app.events.subscriberCount === 0 ? true : undefined));
      }
    };
    expect(await resumeKale()).toContain('are no longer all kept');
    // This version's next pass forgets a change of the beans, raising the marks, and keeps counting it.
    t.clock.advance({ days: 3 });
    await t.app.scheduler.runOnce();
    expect((await t.db.query('SELECT 1 FROM domain_event WHERE product_id = $1', [beans])).rowCount).toBe(1);
    expect(await resumeKale()).toContain('are no longer all kept');
  });
});
