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
});
