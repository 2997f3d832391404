// Without a token, the catalogue of sessions selling or still to come is all there is to read
// (issue 4: "the catalogue of open sessions (offers, prices, availability) is readable without a
// token; everything else needs one"): not a session that ended (cancelled, closed, completed),
// nor a product on sale in none of them. A token reads both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { approveHub, checkout, createProducer, createProduct, createHub, createSession } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';

const CANCEL = 'mutation ($input: CancelSalesSessionInput!) { cancelSalesSession(input: $input) { userErrors { code } } }';
const WITHDRAW = 'mutation ($input: OfferRefInput!) { withdrawOffer(input: $input) { userErrors { code } } }';

const REVOKE = 'mutation ($input: HubApprovalInput!) { revokeHub(input: $input) { userErrors { code } } }';

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
      .producer.products.map((p) => p.name).sort()).toEqual(['Carrots', 'Heirloom tomatoes (not announced)']);

    // So does a hub Jean approved (it offers them), and the operator; another producer, a hub Jean
    // never approved and a shopper read what a visitor reads.
    const approvedHub = await createHub(t.api, 'Hub approved');
    await approveHub(t.api, jean, approvedHub);
    const read = async (client: Awaited<ReturnType<TestApp['as']>>) => {
      const d = await client.data<{ producer: { products: { name: string }[] }; product: { name: string } | null }>(
        'query ($id: ID!, $p: ID!) { producer(id: $id) { products { name } } product(id: $p) { name } }', { id: jean, p: unannounced.id });
      return { listed: d.producer.products.map((p) => p.name).sort(), direct: d.product?.name ?? null };
    };
    const all = { listed: ['Carrots', 'Heirloom tomatoes (not announced)'], direct: 'Heirloom tomatoes (not announced)' };
    const catalogue = { listed: ['Carrots'], direct: null };
    const seen = {
      admin: await read(t.api),
      approvedHub: await read(await t.as({ role: 'hub', hubId: approvedHub })),
      otherProducer: await read(await t.as({ role: 'producer', producerId: await createProducer(t.api, 'Rival farm') })),
      otherHub: await read(await t.as({ role: 'hub', hubId: await createHub(t.api, 'Hub never approved') })),
      customer: await read(await t.as({ role: 'customer', hubId: approvedHub, customerRef: 'ali' })),
    };
    expect(seen).toEqual({ admin: all, approvedHub: all, otherProducer: catalogue, otherHub: catalogue, customer: catalogue });
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

  it('pages on past an item it stopped showing between two pages, and never shows it', async () => {
    const jean = await createProducer(t.api, 'Jean C');
    const [carrots, leeks, kale] = [
      await createProduct(t.api, jean, { name: 'Carrots' }),
      await createProduct(t.api, jean, { name: 'Leeks' }),
      await createProduct(t.api, jean, { name: 'Kale' }),
    ];
    const hub = await createHub(t.api, 'Hub C');
    const open = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00' };
    const sessions = [
      await createSession(t.api, hub, { ...open, products: [carrots, leeks, kale] }),
      await createSession(t.api, hub, { ...open, products: [kale] }),
      await createSession(t.api, hub, { ...open, products: [kale] }),
    ];
    const anonymous = await t.as();
    const PRODUCTS = 'query ($id: ID!, $after: ID) { producer(id: $id) { products(first: 1, after: $after) { id } } }';
    const SESSIONS = 'query ($id: ID!, $after: ID) { hub(id: $id) { salesSessions(first: 1, after: $after) { id } } }';
    const products = (after?: string) =>
      anonymous.data<{ producer: { products: { id: string }[] } }>(PRODUCTS, { id: jean, after }).then((d) => d.producer.products.map((p) => p.id));
    const hubSessions = (after?: string) =>
      anonymous.data<{ hub: { salesSessions: { id: string }[] } }>(SESSIONS, { id: hub, after }).then((d) => d.hub.salesSessions.map((s) => s.id));

    // The first page shows the oldest product, which is then taken off sale everywhere.
    const [first] = await products();
    expect([carrots, leeks, kale]).toContain(first);
    for (const session of sessions) {
      for (const offer of session.offers.filter((o) => o.product.id === first)) {
        expect(await t.api.data(WITHDRAW, { input: { offerId: offer.id } })).toEqual({ withdrawOffer: { userErrors: [] } });
      }
    }
    // The next pages go on from it, showing only what is on sale.
    const rest: string[] = [];
    for (let page = await products(first); page.length > 0; page = await products(rest.at(-1))) rest.push(...page);
    expect(new Set(rest)).toEqual(new Set([carrots, leeks, kale].filter((p) => p !== first)));
    expect(await products()).not.toContain(first);

    // The same for a hub's sessions: the first one seen is cancelled before the next page.
    const [firstSession] = await hubSessions();
    expect(await t.api.data(CANCEL, { input: { salesSessionId: firstSession } })).toEqual({ cancelSalesSession: { userErrors: [] } });
    const later: string[] = [];
    for (let page = await hubSessions(firstSession); page.length > 0; page = await hubSessions(later.at(-1))) later.push(...page);
    expect(new Set(later)).toEqual(new Set(sessions.map((s) => s.id).filter((id) => id !== firstSession)));

    // A cursor that is none of the producer's products is refused, as before.
    const madeUp = await anonymous.request(PRODUCTS, { id: jean, after: '00000000-0000-4000-8000-000000000000' });
    expect(madeUp.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('lets a hub read the products of its own session after it ended, though the operator set it up and no producer approved the hub', async () => {
    const w = await openSessionWorld(t.api);
    const asHub = await t.as({ role: 'hub', hubId: w.hub });
    const before = await asHub.data<{ product: { name: string } | null }>('query ($id: ID!) { product(id: $id) { name } }', { id: w.carrots });
    expect(before.product).toEqual({ name: 'Carrots' });
    t.clock.set('2026-11-23T21:00:00+01:00');
    await t.app.scheduler.runOnce();
    const after = await asHub.data<{ salesSession: { offers: { product: { id: string; name: string } }[] }; product: { name: string } | null }>(
      'query ($s: ID!, $p: ID!) { salesSession(id: $s) { offers { product { id name } } } product(id: $p) { name } }', { s: w.session.id, p: w.carrots });
    expect(after.salesSession.offers.map((o) => o.product.name)).toContain('Carrots');
    expect(after.product).toEqual({ name: 'Carrots' });
  });

  it('lets a hub read the products of its past session after their producer revoked it, directly as through its orders', async () => {
    t.clock.set('2026-11-24T09:00:00+01:00');
    const jean = await createProducer(t.api, 'Jean R');
    const leeks = await createProduct(t.api, jean, { name: 'Leeks', onHand: '10' });
    const hub = await createHub(t.api, 'Hub R');
    await approveHub(t.api, jean, hub);
    const asHub = await t.as({ role: 'hub', hubId: hub });
    const session = await createSession(asHub, hub, { opensAt: '2026-11-24T07:00:00+01:00', closesAt: '2026-11-24T20:00:00+01:00', products: [leeks] });
    const order = await checkout(asHub, session.id, 'ali', [{ offerId: session.offerFor(leeks), quantity: '1' }]);
    expect(order.userErrors).toEqual([]);
    t.clock.set('2026-11-24T21:00:00+01:00');
    await t.app.scheduler.runOnce();
    expect(await t.as({ role: 'producer', producerId: jean }).then((c) => c.data(REVOKE, { input: { producerId: jean, hubId: hub } }))).toEqual({ revokeHub: { userErrors: [] } });
    const d = await asHub.data<{ customerOrder: { lines: { product: { name: string } }[] }; product: { name: string } | null; producer: { products: { name: string }[] } }>(
      'query ($o: ID!, $p: ID!, $j: ID!) { customerOrder(id: $o) { lines { product { name } } } product(id: $p) { name } producer(id: $j) { products { name } } }',
      { o: order.customerOrder!.id, p: leeks, j: jean });
    expect(d.customerOrder.lines.map((l) => l.product.name)).toEqual(['Leeks']);
    expect({ direct: d.product, listed: d.producer.products }).toEqual({ direct: { name: 'Leeks' }, listed: [{ name: 'Leeks' }] });
  });

  it('keeps an ended session, and its withdrawn offers, to its hub, its producers and the operator: a rival reads neither it nor its products', async () => {
    t.clock.set('2026-11-25T09:00:00+01:00');
    const jean = await createProducer(t.api, 'Jean S');
    const secret = await createProduct(t.api, jean, { name: 'Secret squash', sku: 'SQ-SECRET', onHand: '5' });
    const hub = await createHub(t.api, 'Hub S');
    const session = await createSession(t.api, hub, { opensAt: '2026-11-25T07:00:00+01:00', closesAt: '2026-11-25T20:00:00+01:00', products: [secret] });
    t.clock.set('2026-11-25T21:00:00+01:00');
    await t.app.scheduler.runOnce();
    const rival = await t.as({ role: 'producer', producerId: await createProducer(t.api, 'Rival S') });
    const d = await rival.data<{ product: unknown; salesSession: { offers: { product: { name: string; sku: string } }[] } | null }>(
      'query ($s: ID!, $p: ID!) { product(id: $p) { name } salesSession(id: $s) { offers(includeWithdrawn: true) { product { name sku } } } }', { s: session.id, p: secret });
    // Not through product(id), nor one hop away through the ended session.
    expect(d).toEqual({ product: null, salesSession: null });
    // The session's hub, the producer it sold for and the operator read it whole; another hub does not.
    const whole = async (client: Awaited<ReturnType<TestApp['as']>>) =>
      (await client.data<{ salesSession: { offers: { product: { name: string } }[] } | null }>(
        'query ($s: ID!) { salesSession(id: $s) { offers(includeWithdrawn: true) { product { name } } } }', { s: session.id })).salesSession;
    const squash = { offers: [{ product: { name: 'Secret squash' } }] };
    expect({
      hub: await whole(await t.as({ role: 'hub', hubId: hub })),
      producer: await whole(await t.as({ role: 'producer', producerId: jean })),
      admin: await whole(t.api),
      otherHub: await whole(await t.as({ role: 'hub', hubId: await createHub(t.api, 'Hub T') })),
    }).toEqual({ hub: squash, producer: squash, admin: squash, otherHub: null });
  });
});
