// The public availabilityChanged stream of one hub's session sends only changes of what its
// storefront can sell. A producer's fulfilment steps on another hub's orders (that session's
// completion, its shipment, its short fills) and the producer's own transfers between locations
// are that producer's and that hub's business (fulfilmentChanged, with their tokens): they moved
// no availability, and the stream, which anyone may open, says nothing of them, live or replayed.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { adjustStock, createHub, createProducer, createProduct } from '../support/scenarios.js';
import { type AvailabilityEventShape, eventsHandedOut, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import * as op from '../support/operations.js';
import { addLocation, buy, closeSessions, createOfferSession, producerOrderOf, SHIP } from '../fulfilment/support.js';

const AVAILABILITY_WITH_TIME = `subscription ($salesSessionId: ID!, $after: ID) {
  availabilityChanged(salesSessionId: $salesSessionId, after: $after) { id at available offer { id } } }`;

describe("the public availability stream of Hub B's session", () => {
  let t: TestApp;
  // A server of its own for each case: each moves the clock past the sessions' close.
  beforeEach(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterEach(() => t.stop());

  const positioned = () => waitFor('every event positioned', async () =>
    ((await t.db.query('SELECT 1 FROM domain_event WHERE position IS NULL LIMIT 1')).rowCount === 0 ? true : undefined));

  /** Marie's eggs, on sale at Hub A (where Ali holds 6) and, for another week, at Hub B: its storefront is public. */
  async function eggsAtTwoHubs() {
    const marie = await createProducer(t.api, 'Marie');
    const eggs = await createProduct(t.api, marie, { name: 'Eggs', unit: 'each', onHand: '50' });
    const main = (await t.api.data<{ producer: { locations: { id: string }[] } }>('query ($id: ID!) { producer(id: $id) { locations { id } } }', { id: marie }))
      .producer.locations[0]!.id;
    const coldStore = await addLocation(t.api, marie, 'Cold store', 2);
    const sessionA = await createOfferSession(t.api, await createHub(t.api, 'Hub A'), [{ productId: eggs }]);
    const sessionB = await createOfferSession(t.api, await createHub(t.api, 'Hub B'), [{ productId: eggs }], {
      closesAt: '2026-11-30T20:00:00+01:00', deliversAt: '2026-12-01T08:00:00+01:00',
    });
    await buy(t.api, sessionA.id, 'ali', sessionA.offerFor(eggs), '6');
    await positioned();
    return { marie, eggs, main, coldStore, sessionA, sessionB };
  }

  /**
   * Hub A's business and Marie's, none of which changes how many eggs Hub B can sell (44): Hub A's
   * session completes (held becomes committed), its order ships in full (on hand and committed
   * both fall by 6), Marie moves 2 to her cold store. Then the one change Hub B's storefront must
   * hear of: one egg found, 45 to sell.
   */
  async function businessElsewhereThenOneEggFound({ marie, eggs, main, coldStore, sessionA }: Awaited<ReturnType<typeof eggsAtTwoHubs>>) {
    await closeSessions(t);
    const order = await producerOrderOf(t.api, marie, sessionA.id);
    const shipped = await t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(SHIP, {
      input: { producerOrderId: order, carrier: 'La Poste', trackingReference: 'LP-1' },
    });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    const moved = await t.api.data<{ transferStock: { userErrors: unknown[] } }>(op.TRANSFER_STOCK, {
      input: { productId: eggs, fromLocationId: main, toLocationId: coldStore, quantity: '2' },
    });
    expect(moved.transferStock.userErrors).toEqual([]);
    await adjustStock(t.api, eggs, '1', 'found one');
  }

  /** The kinds of the events a subscriber received, in order, once it has the 45 eggs: events reach a stream in order. */
  async function kindsUpToTheFoundEgg(subscriber: { received: (AvailabilityEventShape & { at: string })[]; close(): Promise<void> }) {
    const received = await waitFor('the adjustment', async () => (subscriber.received.some((e) => e.available === '45') ? subscriber.received : undefined));
    await subscriber.close();
    const kinds = await t.db.query<{ kind: string }>(
      'SELECT kind FROM domain_event WHERE position = ANY($1::bigint[]) ORDER BY position', [received.map((e) => e.id)]);
    return { kinds: kinds.rows.map((r) => r.kind), available: received.map((e) => e.available) };
  }

  it("tells an anonymous subscriber nothing of Hub A's session completing and shipping, nor of the producer's transfers: only changes of availability", async () => {
    const world = await eggsAtTwoHubs();
    const { rows: [start] } = await t.db.query<{ position: string }>('SELECT max(position)::text AS position FROM domain_event');
    await businessElsewhereThenOneEggFound(world);
    await positioned();
    const { salesSession } = await t.api.data<{ salesSession: { offers: { available: string }[] } }>(
      'query ($id: ID!) { salesSession(id: $id) { offers { available } } }', { id: world.sessionB.id });
    expect(salesSession.offers[0]!.available).toBe('45');

    const replay = await subscribe<AvailabilityEventShape & { at: string }>(await t.as(), AVAILABILITY_WITH_TIME, { salesSessionId: world.sessionB.id, after: start!.position });
    expect(await kindsUpToTheFoundEgg(replay)).toEqual({ kinds: ['ADJUSTED'], available: ['45'] });
  });

  it('live, as on a replay: a completion, a full shipment and a transfer elsewhere send nothing; the next change does', async () => {
    const world = await eggsAtTwoHubs();
    // Ali's hold, positioned but perhaps not yet handed out, is not the live storefront's to get.
    await eventsHandedOut(t.app);
    const live = await subscribe<AvailabilityEventShape & { at: string }>(await t.as(), AVAILABILITY_WITH_TIME, { salesSessionId: world.sessionB.id });
    await waitFor('the subscription to start', async () => (t.app.events.subscriberCount >= 1 ? true : undefined));
    await businessElsewhereThenOneEggFound(world);
    expect(await kindsUpToTheFoundEgg(live)).toEqual({ kinds: ['ADJUSTED'], available: ['45'] });
  });

  it("does not count Hub A's customers cut by a short fill for an anonymous visitor of Hub B's storefront", async () => {
    const marie = await createProducer(t.api, 'Marie');
    const eggs = await createProduct(t.api, marie, { name: 'Eggs', unit: 'each', onHand: '50' });
    const hubA = await createHub(t.api, 'Hub A');
    const hubB = await createHub(t.api, 'Hub B');
    const sessionA = await createOfferSession(t.api, hubA, [{ productId: eggs }]);
    const sessionB = await createOfferSession(t.api, hubB, [{ productId: eggs }], {
      closesAt: '2026-11-30T20:00:00+01:00', deliversAt: '2026-12-01T08:00:00+01:00',
    });
    for (const customer of ['ali', 'bea', 'cem']) await buy(t.api, sessionA.id, customer, sessionA.offerFor(eggs), '2');
    await closeSessions(t);
    await positioned();
    const { rows: [start] } = await t.db.query<{ position: string }>('SELECT max(position)::text AS position FROM domain_event');

    // Marie ships Hub A 3 eggs of the 6 ordered: the 3 not shipped are on sale again (47), and
    // two of Hub A's customers lose eggs (Hub A's and Marie's to know: SHORT_FILLED).
    const order = await producerOrderOf(t.api, marie, sessionA.id);
    const shipped = await t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(SHIP, {
      input: { producerOrderId: order, carrier: 'La Poste', trackingReference: 'LP-2', lines: [{ productId: eggs, quantity: '3' }] },
    });
    expect(shipped.shipProducerOrder.userErrors).toEqual([]);
    await adjustStock(t.api, eggs, '1', 'found one'); // 48
    await positioned();

    const anonymous = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY_WITH_TIME, { salesSessionId: sessionB.id, after: start!.position });
    const received = await waitFor('the adjustment', async () => (anonymous.received.some((e) => e.available === '48') ? anonymous.received : undefined));
    await anonymous.close();
    const kinds = await t.db.query<{ kind: string }>(
      'SELECT kind FROM domain_event WHERE position = ANY($1::bigint[]) ORDER BY position', [received.map((e) => e.id)]);
    expect({ kinds: kinds.rows.map((r) => r.kind), available: received.map((e) => e.available) })
      .toEqual({ kinds: ['SHIPPED', 'ADJUSTED'], available: ['47', '48'] });
  });
});
