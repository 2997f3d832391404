import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { adjustStock, checkout, createHub, createSession } from '../support/scenarios.js';
import { AVAILABILITY, type AvailabilityEventShape, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { openSessionWorld } from '../support/world.js';

const CANCEL_SALES_SESSION = 'mutation ($input: CancelSalesSessionInput!) { cancelSalesSession(input: $input) { userErrors { code } } }';

/**
 * A session closed early or cancelled stops selling at once (Offer.available reads 0): its
 * storefronts are told, one event for each offer on sale, and then hear nothing more of them.
 */
describe('availabilityChanged when a session stops selling before its close', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  for (const [name, mutation] of [['cancelSalesSession', CANCEL_SALES_SESSION], ['closeSalesSession', op.CLOSE_SALES_SESSION]] as const) {
    it(`tells a subscribed storefront each offer on sale reads 0 after ${name}, and then nothing more of it`, async () => {
      const w = await openSessionWorld(t.api, { carrots: '10' });
      const withdrawn = w.session.offerFor(w.bread);
      expect((await t.api.data<{ withdrawOffer: { userErrors: unknown[] } }>(
        'mutation ($input: OfferRefInput!) { withdrawOffer(input: $input) { userErrors { code } } }', { input: { offerId: withdrawn } },
      )).withdrawOffer.userErrors).toEqual([]);
      // Another hub's session selling the carrots: its storefront sees the carrots' later change.
      const other = await createSession(t.api, await createHub(t.api, 'Hub B'), {
        opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [w.carrots],
      });
      const storefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: w.session.id });
      const otherStorefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: other.id });
      await waitFor('both subscriptions to start', async () => (t.app.events.subscriberCount >= 2 ? true : undefined));

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

    const replay = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: w.session.id, after: start!.position });
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
});
