// Without a token, the catalogue of sessions selling or still to come is all there is to read
// (issue 4: "the catalogue of open sessions (offers, prices, availability) is readable without a
// token; everything else needs one"): not a session that ended (cancelled, closed, completed),
// nor a product on sale in none of them. A token reads both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { createProducer, createProduct, createHub, createSession } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';

const CANCEL = 'mutation ($input: CancelSalesSessionInput!) { cancelSalesSession(input: $input) { userErrors { code } } }';

describe('what a caller without a token reads', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it("does not get a hub's cancelled session, its offers, prices or caps", async () => {
    const w = await openSessionWorld(t.api);
    // Next week's session, priced and capped, then called off by the hub before it ever opened.
    const { createSalesSession } = await t.api.data<{ createSalesSession: { salesSession: { id: string } } }>(op.CREATE_SALES_SESSION, {
      input: {
        hubId: w.hub, opensAt: '2026-11-30T07:00:00+01:00', closesAt: '2026-12-04T20:00:00+01:00', timeZone: 'Europe/Paris',
        offers: [{ productId: w.carrots, price: { amount: 1234, currency: 'EUR' }, cap: '3' }],
      },
    });
    const cancelled = createSalesSession.salesSession.id;
    expect(await t.api.data(CANCEL, { input: { salesSessionId: cancelled } })).toEqual({ cancelSalesSession: { userErrors: [] } });

    const anonymous = await t.as();
    const direct = await anonymous.request<{ salesSession: unknown }>(
      'query ($id: ID!) { salesSession(id: $id) { status offers(includeWithdrawn: true) { price { amount } cap } } }', { id: cancelled });
    const listed = await anonymous.request<{ hub: { salesSessions: { id: string; status: string }[] } }>(
      'query ($id: ID!) { hub(id: $id) { salesSessions(first: 10) { id status } } }', { id: w.hub });
    expect(listed.status).toBe(200);
    expect({
      direct: direct.data?.salesSession ?? null,
      listed: (listed.data?.hub?.salesSessions ?? []).filter((s) => s.id === cancelled),
    }).toEqual({ direct: null, listed: [] });
    // The hub's own back office, and any caller with a token, still reads it.
    const asHub = await t.as({ role: 'hub', hubId: w.hub });
    expect((await asHub.data<{ salesSession: { status: string } }>('query ($id: ID!) { salesSession(id: $id) { status } }', { id: cancelled })).salesSession)
      .toEqual({ status: 'CANCELLED' });
    // The open session is the catalogue: anyone reads it, and finds it listed.
    expect((listed.data?.hub?.salesSessions ?? []).map((s) => s.id)).toEqual([w.session.id]);
  });

  it("does not get a producer's products that no session offers", async () => {
    const jean = await createProducer(t.api, 'Jean');
    const onSale = await createProduct(t.api, jean, { name: 'Carrots' });
    await createSession(t.api, await createHub(t.api, 'Hub A'), {
      opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [onSale],
    });
    // Not on sale anywhere: Jean's plans for next season.
    await createProduct(t.api, jean, { name: 'Heirloom tomatoes (not announced)', sku: 'TOM-2027' });

    const anonymous = await t.as();
    const { producer } = await anonymous.data<{ producer: { products: { name: string; sku: string }[] } }>(
      'query ($id: ID!) { producer(id: $id) { products { name sku } } }', { id: jean });
    expect(producer.products.map((p) => p.name)).toEqual(['Carrots']);
    const unannounced = (await t.api.data<{ producer: { products: { id: string; name: string }[] } }>(
      'query ($id: ID!) { producer(id: $id) { products { id name } } }', { id: jean })).producer.products.find((p) => p.name.startsWith('Heirloom'))!;
    expect((await anonymous.data<{ product: unknown }>('query ($id: ID!) { product(id: $id) { name } }', { id: unannounced.id })).product).toBeNull();
    expect((await anonymous.data<{ product: unknown }>('query ($id: ID!) { product(id: $id) { name } }', { id: onSale })).product).toEqual({ name: 'Carrots' });
    // Its producer, with a token, reads them all.
    const asJean = await t.as({ role: 'producer', producerId: jean });
    expect((await asJean.data<{ producer: { products: { name: string }[] } }>('query ($id: ID!) { producer(id: $id) { products { name } } }', { id: jean }))
      .producer.products.map((p) => p.name)).toEqual(['Carrots', 'Heirloom tomatoes (not announced)']);
  });

  it('does not reach a product on sale in no session through a withdrawn offer of an open session', async () => {
    const jean = await createProducer(t.api, 'Jean W');
    const carrots = await createProduct(t.api, jean, { name: 'Carrots' });
    const secret = await createProduct(t.api, jean, { name: 'Heirloom tomatoes (withdrawn)', sku: 'TOM-2027' });
    const hub = await createHub(t.api, 'Hub W');
    const session = await createSession(t.api, hub, {
      opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [carrots, secret],
    });
    const withdrawn = await t.api.data<{ withdrawOffer: { userErrors: unknown[] } }>(
      'mutation ($input: OfferRefInput!) { withdrawOffer(input: $input) { userErrors { code } } }', { input: { offerId: session.offerFor(secret) } });
    expect(withdrawn.withdrawOffer.userErrors).toEqual([]);

    const PAGE = 'query ($id: ID!) { salesSession(id: $id) { offers(includeWithdrawn: true) { product { name } } } }';
    const anonymous = await t.as();
    expect((await anonymous.data<{ product: unknown }>('query ($id: ID!) { product(id: $id) { name } }', { id: secret })).product).toBeNull();
    const seen = await anonymous.data<{ salesSession: { offers: { product: { name: string } }[] } }>(PAGE, { id: session.id });
    expect(seen.salesSession.offers.map((o) => o.product.name)).toEqual(['Carrots']);
    // Its hub reads the withdrawn offer, as before.
    const asHub = await t.as({ role: 'hub', hubId: hub });
    expect((await asHub.data<{ salesSession: { offers: { product: { name: string } }[] } }>(PAGE, { id: session.id })).salesSession.offers.map((o) => o.product.name))
      .toEqual(['Carrots', 'Heirloom tomatoes (withdrawn)']);
  });

  it('answers a cursor naming what it hides as it answers a made-up one: it confirms nothing', async () => {
    const jean = await createProducer(t.api, 'Jean C');
    const carrots = await createProduct(t.api, jean, { name: 'Carrots' });
    const secret = await createProduct(t.api, jean, { name: 'Aubergines (not announced)', sku: 'AUB-2027' });
    const hub = await createHub(t.api, 'Hub C');
    await createSession(t.api, hub, { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [carrots] });
    const past = await createSession(t.api, hub, { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [carrots] });
    expect(await t.api.data(CANCEL, { input: { salesSessionId: past.id } })).toEqual({ cancelSalesSession: { userErrors: [] } });
    const madeUp = '00000000-0000-4000-8000-000000000000';
    const anonymous = await t.as();
    const answer = async (query: string, variables: Record<string, unknown>) => {
      const { data, errors } = await anonymous.request<Record<string, unknown>>(query, variables);
      return { data: data ?? null, codes: (errors ?? []).map((e: { extensions?: { code?: string } }) => e.extensions?.code) };
    };
    const PRODUCTS = 'query ($id: ID!, $after: ID) { producer(id: $id) { products(after: $after) { name } } }';
    const SESSIONS = 'query ($id: ID!, $after: ID) { hub(id: $id) { salesSessions(after: $after) { id } } }';
    const unknownProduct = await answer(PRODUCTS, { id: jean, after: madeUp });
    expect(unknownProduct.codes).toEqual(['BAD_USER_INPUT']);
    expect(await answer(PRODUCTS, { id: jean, after: secret })).toEqual(unknownProduct);
    const unknownSession = await answer(SESSIONS, { id: hub, after: madeUp });
    expect(unknownSession.codes).toEqual(['BAD_USER_INPUT']);
    expect(await answer(SESSIONS, { id: hub, after: past.id })).toEqual(unknownSession);
  });
});
