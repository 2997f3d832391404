// A subscription resuming with `after` once retention has forgotten events after it is refused,
// rather than replaying the rest as if nothing were missing (issue 3: "reconnect with after loses
// nothing"); one resuming after what is still kept replays it all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjustStock, checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { AVAILABILITY, type AvailabilityEventShape, eventsHandedOut, RESERVATIONS, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

describe('resuming once retention has forgotten events', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { EVENT_RETENTION: 'P1D' } });
  });
  afterAll(() => t.stop());

  /** 'open', or the errors a resuming stream got, once it is one or the other; closed after. */
  const outcomeOf = async (stream: { errors: unknown[]; close(): Promise<unknown> }) => {
    try {
      return await waitFor('an error or the stream to open', async () =>
        (stream.errors.length > 0 ? JSON.stringify(stream.errors) : t.app.events.subscriberCount >= 1 ? 'open' : undefined));
    } finally {
      await stream.close();
      await waitFor('the stream to end', async () => (t.app.events.subscriberCount === 0 ? true : undefined));
    }
  };
  const positionOf = async (productId: string) =>
    (await t.db.query<{ position: string }>('SELECT max(position)::text AS position FROM domain_event WHERE product_id = $1', [productId])).rows[0]!.position;
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
    // Positioned before the session is made, the opening stock is not one of its events.
    await positioned();
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
    // Their initial stock, handed out before the storefronts subscribe, is not theirs to get.
    await eventsHandedOut(t.app);
    const kaleLive = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: kaleSession.id });
    const leekLive = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: leekSession.id });
    await waitFor('both subscriptions to start', async () => (t.app.events.subscriberCount >= 2 ? true : undefined));
    await adjustStock(t.api, kale, '1');
    await adjustStock(t.api, leeks, '1');
    const [kaleSeen] = await kaleLive.waitForCount(1);
    const [leekSeen] = await leekLive.waitForCount(1);
    await Promise.all([kaleLive.close(), leekLive.close()]);
    // A customer holds leeks (a reservation of the busy farm's), and the leeks' stock changes again.
    expect((await checkout(t.api, leekSession.id, 'ann', [{ offerId: leekSession.offerFor(leeks), quantity: '1' }])).userErrors).toEqual([]);
    await adjustStock(t.api, leeks, '2');
    await positioned();
    t.clock.advance({ days: 3 });
    await t.app.scheduler.runOnce();
    await adjustStock(t.api, leeks, '3');
    await positioned();
    // The kale's change is forgotten, and the leeks' changes with the hold; kept are the hold's
    // release (it lapsed three days on: new) and the newest change.
    const { rows: kept } = await t.db.query<{ kind: string }>('SELECT kind FROM domain_event WHERE product_id = ANY($1) ORDER BY position', [[kale, leeks]]);
    expect(kept.map((e) => e.kind)).toEqual(['RELEASED', 'ADJUSTED']);

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

  // A replica of the version before (a rolling upgrade) deletes without recording whose events
  // they were: the database records them all the same.
  it("refuses a storefront's resume across an event a previous-version replica's pass forgot, after this version's pass kept it", async () => {
    const quiet = await createProducer(t.api, 'Quiet farm');
    const kale = await createProduct(t.api, quiet, { name: 'Kale', onHand: '10' });
    const busy = await createProducer(t.api, 'Busy farm');
    const beans = await createProduct(t.api, busy, { name: 'Beans', onHand: '10' });
    const times = { opensAt: t.clock.now().toISOString(), closesAt: new Date(t.clock.now().getTime() + 30 * 86_400_000).toISOString() };
    const session = await createSession(t.api, await createHub(t.api, 'Hub'), { ...times, products: [kale] });

    await adjustStock(t.api, kale, '1'); // 11: the storefront sees it
    await positioned();
    const seen = await positionOf(kale);
    await adjustStock(t.api, kale, '2'); // 13: will be lost
    await positioned();
    const lost = await positionOf(kale);
    await adjustStock(t.api, beans, '1');
    await adjustStock(t.api, beans, '1'); // newest, kept
    await positioned();

    // The kale's 13 has a webhook delivery still pending: this version's pass keeps it.
    const { rows: [hook] } = await t.db.query<{ id: string }>(
      `INSERT INTO webhook (id, url, kinds, producer_id, secret) VALUES (gen_random_uuid(), 'http://127.0.0.1:9/', '{ADJUSTED}', $1, 's') RETURNING id`, [quiet]);
    await t.db.query(
      `INSERT INTO webhook_delivery (webhook_id, event_position, ordering_key, body, status, next_attempt_at, created_at)
       VALUES ($1, $2, gen_random_uuid(), '{}', 'PENDING', now() + interval '100 years', now())`, [hook!.id, lost]);

    t.clock.advance({ days: 3 });
    await t.app.scheduler.runOnce(); // this version's pass
    expect((await t.db.query('SELECT 1 FROM domain_event WHERE position = $1', [lost])).rowCount).toBe(1);

    // The delivery goes out; then a replica of the version before runs its pass (its exact statement).
    await t.db.query(`UPDATE webhook_delivery SET status = 'DELIVERED', delivered_at = now() WHERE webhook_id = $1`, [hook!.id]);
    await t.db.query(
      `WITH gone AS (DELETE FROM domain_event WHERE ctid = ANY(ARRAY(
           SELECT e.ctid FROM domain_event e
            WHERE e.position IS NOT NULL AND e.created_at < $1
              AND e.position < (SELECT max(position) FROM domain_event)
              AND NOT EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.event_position = e.position AND d.status = 'PENDING') LIMIT 5000))
         RETURNING position),
       alongside AS (UPDATE pruned_events SET through_position = greatest(through_position, (SELECT max(position) FROM gone)) WHERE EXISTS (SELECT 1 FROM gone))
       SELECT count(*)::int AS deleted FROM gone`,
      [new Date(t.clock.now().getTime() - 86_400_000)],
    );
    expect((await t.db.query('SELECT 1 FROM domain_event WHERE position = $1', [lost])).rowCount).toBe(0);

    // The storefront resumes after 11: 13 is forgotten, so it must be refused.
    expect(await outcomeOf(await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: session.id, after: seen }))).toContain('are no longer all kept');
  });

  it("resumes a producer's reservations when only events its stream never delivers (stock adjustments) were forgotten", async () => {
    const other = await createProducer(t.api, 'Other farm 2');
    const carrots = await createProduct(t.api, other, { name: 'Carrots', onHand: '10' });
    const quiet = await createProducer(t.api, 'No-reservations farm');
    const kale = await createProduct(t.api, quiet, { name: 'Kale', onHand: '10' });
    await adjustStock(t.api, carrots, '1');
    await positioned();
    const seen = await positionOf(carrots); // the last id the producer's client saw (any event id)
    await adjustStock(t.api, kale, '1'); // not a reservation event: the reservations stream never delivers it
    await adjustStock(t.api, carrots, '1');
    await adjustStock(t.api, carrots, '1'); // newest, kept
    await positioned();
    t.clock.advance({ days: 3 });
    await t.app.scheduler.runOnce();
    expect(await outcomeOf(await subscribe<unknown>(t.api, RESERVATIONS, { producerId: quiet, after: seen }))).toBe('open');
  });
});
