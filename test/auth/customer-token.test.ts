// A customer token (a shopper's, held in their browser) reads its own orders and otherwise what a
// visitor reads (issue 4: "a customer sees and cancels only their own orders"); its reference
// claim is read as a checkout reads the one it stores.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkout, createHub, createProduct, createSession } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';

const CANCEL_SESSION = 'mutation ($input: CancelSalesSessionInput!) { cancelSalesSession(input: $input) { userErrors { code } } }';
const WITHDRAW = 'mutation ($input: OfferRefInput!) { withdrawOffer(input: $input) { userErrors { code } } }';
const CANCEL_ORDER = 'mutation ($input: CustomerOrderRefInput!) { cancelCustomerOrder(input: $input) { customerOrder { id status } userErrors { code } } }';

describe('a customer token', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof openSessionWorld>>;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    w = await openSessionWorld(t.api, { carrots: '100' });
  });
  afterAll(() => t.stop());

  it("of hub A reads no more of the catalogue than a visitor: not hub B's cancelled session, withdrawn offers, nor a producer's unannounced product", async () => {
    // Jean's plans for next season: on sale nowhere.
    const unannounced = await createProduct(t.api, w.jean, { name: 'Heirloom tomatoes (not announced)', sku: 'TOM-2027' });
    // Hub B: a session priced and capped, then called off; and an open one with an offer withdrawn.
    const hubB = await createHub(t.api, 'Hub B');
    const cancelled = await createSession(t.api, hubB, { opensAt: '2026-11-30T07:00:00+01:00', closesAt: '2026-12-04T20:00:00+01:00', products: [w.carrots] });
    expect(await t.api.data(CANCEL_SESSION, { input: { salesSessionId: cancelled.id } })).toEqual({ cancelSalesSession: { userErrors: [] } });
    const open = await createSession(t.api, hubB, { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [w.carrots, w.eggs] });
    expect(await t.api.data(WITHDRAW, { input: { offerId: open.offerFor(w.eggs) } })).toEqual({ withdrawOffer: { userErrors: [] } });

    const read = async (client: Awaited<ReturnType<TestApp['as']>>) => {
      const d = await client.data<any>(
        `query ($session: ID!, $open: ID!, $product: ID!, $jean: ID!, $hubB: ID!) {
           cancelled: salesSession(id: $session) { id status }
           open: salesSession(id: $open) { offers(includeWithdrawn: true) { product { name } withdrawnAt } }
           unannounced: product(id: $product) { name sku }
           producer(id: $jean) { products { name } }
           hub(id: $hubB) { salesSessions { id } }
         }`,
        { session: cancelled.id, open: open.id, product: unannounced, jean: w.jean, hubB },
      );
      return {
        cancelled: d.cancelled,
        openOffers: d.open.offers.map((o: any) => o.product.name),
        unannounced: d.unannounced,
        jeansProducts: d.producer.products.map((p: any) => p.name).sort(),
        hubBSessions: d.hub.salesSessions.map((s: any) => s.id),
      };
    };
    const visitor = await read(await t.as());
    const customerOfA = await read(await t.as({ role: 'customer', hubId: w.hub, customerRef: 'ali' }));
    // A shopper signed in at hub A is no more entitled to hub B's back office or Jean's plans than a visitor.
    expect(customerOfA).toEqual(visitor);
  });

  it('finds its own orders when its customerRef claim carries the whitespace checkout trims', async () => {
    const placed = await checkout(t.api, w.session.id, ' zoe ', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
    const orderId = placed.customerOrder!.id;
    const stored = await t.api.data<{ customerOrder: { customerRef: string } }>('query ($id: ID!) { customerOrder(id: $id) { customerRef } }', { id: orderId });
    expect(stored.customerOrder.customerRef).toBe('zoe');

    // The same reference the storefront checked out with, as the identity provider put it in the token.
    const zoe = await t.as({ role: 'customer', hubId: w.hub, customerRef: ' zoe ' });
    const seen = {
      one: (await zoe.data<{ customerOrder: { id: string } | null }>('query ($id: ID!) { customerOrder(id: $id) { id } }', { id: orderId })).customerOrder?.id ?? null,
      list: (await zoe.data<{ customerOrders: { id: string }[] }>('query ($s: ID!) { customerOrders(salesSessionId: $s) { id } }', { s: w.session.id }))
        .customerOrders.map((o) => o.id),
      listByRef: (await zoe.data<{ customerOrders: { id: string }[] }>('query ($s: ID!) { customerOrders(salesSessionId: $s, customerRef: " zoe ") { id } }', { s: w.session.id }))
        .customerOrders.map((o) => o.id),
    };
    expect(seen).toEqual({ one: orderId, list: [orderId], listByRef: [orderId] });
    const cancel = await zoe.data<{ cancelCustomerOrder: { userErrors: { code: string }[] } }>(CANCEL_ORDER, { input: { customerOrderId: orderId } });
    expect(cancel.cancelCustomerOrder.userErrors).toEqual([]);
  });

  it('is refused (401) when its customerRef claim holds what no checkout could have stored, not answered as a database outage', async () => {
    const order = (await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }])).customerOrder!.id;
    for (const customerRef of ['ali\u0000', 'Zoë 🍓'.slice(0, 5), 'a'.repeat(201)]) {
      const odd = await t.as({ role: 'customer', hubId: w.hub, customerRef });
      const list = await odd.request('query ($s: ID!) { customerOrders(salesSessionId: $s) { id } }', { s: w.session.id });
      const cancel = await odd.request(CANCEL_ORDER, { input: { customerOrderId: order } });
      expect([list.status, list.errors?.[0]?.extensions?.code, cancel.errors?.[0]?.extensions?.code]).toEqual([401, 'UNAUTHENTICATED', 'UNAUTHENTICATED']);
    }
    // 200 characters, an emoji counted as one, is a reference a checkout keeps.
    const longest = await t.as({ role: 'customer', hubId: w.hub, customerRef: '🍓'.repeat(200) });
    expect((await longest.request('query ($s: ID!) { customerOrders(salesSessionId: $s) { id } }', { s: w.session.id })).errors).toBeUndefined();
  });
});
