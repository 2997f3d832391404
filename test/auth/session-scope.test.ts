// Who reads a session whole (its hub, the operator, its producers: seesSessionWhole()), and what
// that leads to: a producer reads only its own withdrawn offers, another's product being its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { AVAILABILITY, type AvailabilityEventShape, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const WITHDRAW = 'mutation ($input: OfferRefInput!) { withdrawOffer(input: $input) { userErrors { code } } }';

describe('a session read whole', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it("a co-supplying producer does not read another producer's product on sale nowhere through the session's withdrawn offers, as product(id) does not", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const jean = await createProducer(t.api, 'Jean C');
    const marie = await createProducer(t.api, 'Marie C');
    const carrots = await createProduct(t.api, jean, { name: 'Carrots C', onHand: '5' });
    const secret = await createProduct(t.api, marie, { name: 'Marie secret', sku: 'M-SECRET', onHand: '5' });
    const hub = await createHub(t.api, 'Hub C');
    const session = await createSession(t.api, hub, { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [carrots, secret] });
    // The hub takes Marie's product off sale: it is on sale nowhere from now on.
    expect(await t.api.data(WITHDRAW, { input: { offerId: session.offerFor(secret) } })).toEqual({ withdrawOffer: { userErrors: [] } });
    const asJean = await t.as({ role: 'producer', producerId: jean });
    const d = await asJean.data<{ product: { name: string } | null; salesSession: { offers: { product: { name: string; sku: string } }[] } | null }>(
      'query ($s: ID!, $p: ID!) { product(id: $p) { name } salesSession(id: $s) { offers(includeWithdrawn: true) { product { name sku } } } }', { s: session.id, p: secret });
    const viaSession = (d.salesSession?.offers ?? []).some((o) => o.product.sku === 'M-SECRET');
    // Jean's own session read whole is fine; Marie's off-sale product is Marie's, her hubs' and the operator's (seesProductsOffSale).
    expect({ direct: d.product !== null, viaSession }).toEqual({ direct: false, viaSession: false });
    // Marie reads her own withdrawn offer, the hub both.
    const withdrawnOf = async (client: Awaited<ReturnType<TestApp['as']>>) =>
      (await client.data<{ salesSession: { offers: { product: { name: string }; withdrawnAt: string | null }[] } }>(
        'query ($s: ID!) { salesSession(id: $s) { offers(includeWithdrawn: true) { product { name } withdrawnAt } } }', { s: session.id }))
        .salesSession.offers.filter((o) => o.withdrawnAt).map((o) => o.product.name);
    expect({
      marie: await withdrawnOf(await t.as({ role: 'producer', producerId: marie })),
      hub: await withdrawnOf(await t.as({ role: 'hub', hubId: hub })),
      jean: await withdrawnOf(asJean),
    }).toEqual({ marie: ['Marie secret'], hub: ['Marie secret'], jean: [] });
  });

  it('a producer whose offer was withdrawn before the close still reads the ended session, resumes availabilityChanged across it, and the hub gets INVALID_STATE', async () => {
    t.clock.set('2026-11-24T09:00:00+01:00');
    const jean = await createProducer(t.api, 'Jean W');
    const carrots = await createProduct(t.api, jean, { name: 'Carrots W', onHand: '5' });
    const other = await createProduct(t.api, await createProducer(t.api, 'Other W'), { name: 'Other W', onHand: '5' });
    const hub = await createHub(t.api, 'Hub W');
    const session = await createSession(t.api, hub, { opensAt: '2026-11-24T07:00:00+01:00', closesAt: '2026-11-24T20:00:00+01:00', products: [carrots, other] });
    await t.api.data(WITHDRAW, { input: { offerId: session.offerFor(carrots) } });
    await waitFor('positioned', async () => ((await t.db.query('SELECT 1 FROM domain_event WHERE position IS NULL LIMIT 1')).rowCount === 0 ? true : undefined));
    const { rows: [start] } = await t.db.query<{ position: string | null }>('SELECT max(position)::text AS position FROM domain_event');
    await t.api.data(op.CLOSE_SALES_SESSION, { input: { salesSessionId: session.id } });
    const asJean = await t.as({ role: 'producer', producerId: jean });
    const d = await asJean.data<{ salesSession: { status: string; offers: { id: string }[] } | null }>(
      'query ($s: ID!) { salesSession(id: $s) { status offers(includeWithdrawn: true) { id } } }', { s: session.id });
    expect(d.salesSession?.offers.length).toBe(2);
    const sub = await subscribe<AvailabilityEventShape>(asJean, AVAILABILITY, { salesSessionId: session.id, after: start!.position ?? '0' });
    await waitFor('events or an error', async () => (sub.received.length > 0 || sub.errors.length > 0 ? true : undefined));
    expect(sub.errors).toEqual([]);
    await sub.close();
    const asHub = await t.as({ role: 'hub', hubId: hub });
    const upd = await asHub.data<{ updateSalesSession: { userErrors: { code: string }[] } }>(
      'mutation ($input: UpdateSalesSessionInput!) { updateSalesSession(input: $input) { userErrors { code } } }',
      { input: { salesSessionId: session.id, closesAt: '2026-11-30T20:00:00+01:00' } });
    expect(upd.updateSalesSession.userErrors.map((e) => e.code)).toEqual(['INVALID_STATE']);
  });
  it("Hub.salesSessions lists to a producer the ended sessions that offered its products (withdrawn or not), and not another's, as salesSession(id) reads them", async () => {
    t.clock.set('2026-12-01T06:00:00+01:00');
    const jean = await createProducer(t.api, 'Jean L');
    const marie = await createProducer(t.api, 'Marie L');
    const carrots = await createProduct(t.api, jean, { name: 'Carrots L', onHand: '5' });
    const leeks = await createProduct(t.api, jean, { name: 'Leeks L', onHand: '5' });
    const cheese = await createProduct(t.api, marie, { name: 'Cheese L', onHand: '5' });
    const hub = await createHub(t.api, 'Hub L');
    const day = (d: number) => ({ opensAt: `2026-12-0${d}T07:00:00+01:00`, closesAt: `2026-12-0${d}T20:00:00+01:00` });
    const jeans = await createSession(t.api, hub, { ...day(1), products: [carrots] });
    const withdrawn = await createSession(t.api, hub, { ...day(2), products: [leeks, cheese] });
    const maries = await createSession(t.api, hub, { ...day(3), products: [cheese] });
    const open = await createSession(t.api, hub, { ...day(5), products: [cheese] });
    await t.api.data(WITHDRAW, { input: { offerId: withdrawn.offerFor(leeks) } });
    t.clock.set('2026-12-05T09:00:00+01:00');
    const listed = async (client: Awaited<ReturnType<TestApp['as']>>, args = '') =>
      (await client.data<{ hub: { salesSessions: { id: string }[] } }>(`query ($h: ID!) { hub(id: $h) { salesSessions${args} { id } } }`, { h: hub }))
        .hub.salesSessions.map((s) => s.id);
    const asJean = await t.as({ role: 'producer', producerId: jean });
    const asMarie = await t.as({ role: 'producer', producerId: marie });
    const asOther = await t.as({ role: 'producer', producerId: await createProducer(t.api, 'Other L') });
    expect({
      jean: await listed(asJean),
      marie: await listed(asMarie),
      other: await listed(asOther),
      // Paged and filtered as the hub's own list is.
      jeanPaged: await listed(asJean, `(first: 1, after: "${jeans.id}")`),
      jeanSince: await listed(asJean, '(closesAfter: "2026-12-02T12:00:00Z")'),
    }).toEqual({
      jean: [jeans.id, withdrawn.id, open.id],
      marie: [withdrawn.id, maries.id, open.id],
      other: [open.id],
      jeanPaged: [withdrawn.id],
      jeanSince: [withdrawn.id, open.id],
    });
    // Each listed session reads whole by id too.
    for (const id of [jeans.id, withdrawn.id]) {
      expect((await asJean.data<{ salesSession: { id: string } | null }>('query ($s: ID!) { salesSession(id: $s) { id } }', { s: id })).salesSession?.id).toBe(id);
    }
  });
  it("a producer reads by id, and in its producer's list, a co-supplier's product the ended session it supplied shows, and not one withdrawn there", async () => {
    t.clock.set('2026-12-06T06:00:00+01:00');
    const jean = await createProducer(t.api, 'Jean R');
    const marie = await createProducer(t.api, 'Marie R');
    const carrots = await createProduct(t.api, jean, { name: 'Carrots R', onHand: '5' });
    const cheese = await createProduct(t.api, marie, { name: 'Cheese R', onHand: '5' });
    const butter = await createProduct(t.api, marie, { name: 'Butter R', onHand: '5' });
    const hub = await createHub(t.api, 'Hub R');
    const session = await createSession(t.api, hub, { opensAt: '2026-12-06T07:00:00+01:00', closesAt: '2026-12-06T20:00:00+01:00', products: [carrots, cheese, butter] });
    await t.api.data(WITHDRAW, { input: { offerId: session.offerFor(butter) } });
    // Ended: Marie's products are on sale nowhere now.
    t.clock.set('2026-12-07T09:00:00+01:00');
    const read = async (client: Awaited<ReturnType<TestApp['as']>>) => {
      const d = await client.data<{
        hub: { salesSessions: { offers: { product: { id: string } }[] }[] };
        cheese: { id: string } | null;
        butter: { id: string } | null;
        producer: { products: { id: string }[] };
      }>('query ($h: ID!, $c: ID!, $b: ID!, $m: ID!) { hub(id: $h) { salesSessions(first: 5) { offers { product { id } } } } cheese: product(id: $c) { id } butter: product(id: $b) { id } producer(id: $m) { products(first: 5) { id } } }',
        { h: hub, c: cheese, b: butter, m: marie });
      return {
        shown: d.hub.salesSessions.flatMap((s) => s.offers.map((o) => o.product.id)).includes(cheese),
        byId: [d.cheese?.id, d.butter?.id].filter(Boolean),
        inList: d.producer.products.map((p) => p.id),
      };
    };
    expect({
      jean: await read(await t.as({ role: 'producer', producerId: jean })),
      other: await read(await t.as({ role: 'producer', producerId: await createProducer(t.api, 'Other R') })),
    }).toEqual({
      jean: { shown: true, byId: [cheese], inList: [cheese] },
      other: { shown: false, byId: [], inList: [] },
    });
  });
});
