// Every operation as every role: the operator, the enterprise that owns the record, another
// enterprise of the same kind, customers, and nobody. Each call is classified as allowed or denied
// (and a denial must carry a typed code, never a 500).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLClient, GraphQLResponse } from '../support/graphql.js';
import * as op from '../support/operations.js';
import { checkout, createHub, createProducer, createSession } from '../support/scenarios.js';
import { AVAILABILITY, RESERVATIONS, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { openSessionWorld } from '../support/world.js';

const ADD_OFFERS = 'mutation ($input: AddOffersInput!) { addOffers(input: $input) { offers { id } userErrors { field message code } } }';
const WITHDRAW_OFFER = 'mutation ($input: OfferRefInput!) { withdrawOffer(input: $input) { userErrors { field message code } } }';
const RESTORE_OFFER = 'mutation ($input: OfferRefInput!) { restoreOffer(input: $input) { userErrors { field message code } } }';

type Role = 'anonymous' | 'admin' | 'ownHub' | 'otherHub' | 'ownProducer' | 'otherProducer' | 'ownCustomer' | 'otherCustomer';
const ROLES: Role[] = ['anonymous', 'admin', 'ownHub', 'otherHub', 'ownProducer', 'otherProducer', 'ownCustomer', 'otherCustomer'];
type Outcome = 'allowed' | 'denied';

const DENIAL_CODES = ['UNAUTHENTICATED', 'FORBIDDEN'];

/**
 * A mutation is allowed when it ran; denied when refused with an access code (`hidden`: with the
 * NOT_FOUND a record the caller may not read gets). Anything else fails the test.
 */
function mutationOutcome(response: GraphQLResponse<Record<string, { userErrors: { code: string }[] }>>, hidden = false): Outcome {
  expect(response.status).toBeLessThan(500);
  if (response.errors?.length) {
    expect(DENIAL_CODES).toContain(response.errors[0]!.extensions?.code);
    return 'denied';
  }
  const payload = Object.values(response.data!)[0]!;
  if (payload.userErrors.length === 0) return 'allowed';
  expect(payload.userErrors.map((e) => e.code)).toEqual([hidden ? 'NOT_FOUND' : 'FORBIDDEN']);
  return 'denied';
}

/** A read is allowed when it returned the record; denied when refused or when the record is hidden. */
function readOutcome(response: GraphQLResponse<unknown>, visible: (data: any) => boolean): Outcome {
  expect(response.status).toBeLessThan(500);
  if (response.errors?.length) {
    expect(DENIAL_CODES).toContain(response.errors[0]!.extensions?.code);
    return 'denied';
  }
  return visible(response.data) ? 'allowed' : 'denied';
}

describe('who may do what', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof openSessionWorld>>;
  let clients: Record<Role, GraphQLClient>;
  let otherHub: string;
  let aliOrder: string;

  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    w = await openSessionWorld(t.api, { carrots: '1000', eggs: '1000' });
    otherHub = await createHub(t.api, 'Hub B');
    await createSession(t.api, otherHub, { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [w.carrots] });
    aliOrder = (await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }])).customerOrder!.id;
    clients = {
      anonymous: await t.as(),
      admin: t.api,
      ownHub: await t.as({ role: 'hub', hubId: w.hub }),
      otherHub: await t.as({ role: 'hub', hubId: otherHub }),
      ownProducer: await t.as({ role: 'producer', producerId: w.jean }),
      otherProducer: await t.as({ role: 'producer', producerId: w.marie }),
      ownCustomer: await t.as({ role: 'customer', hubId: w.hub, customerRef: 'ali' }),
      otherCustomer: await t.as({ role: 'customer', hubId: w.hub, customerRef: 'bob' }),
    };
  });
  afterAll(() => t.stop());

  /** A fresh unpaid order of Ali's at the own hub, for operations that change an order. */
  const freshOrder = async () => (await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }])).customerOrder!.id;

  /** A new session of the own hub's, next week, for operations that change or end one. */
  const laterSession = async () => {
    const { createSalesSession } = await t.api.data<{ createSalesSession: { salesSession: { id: string } } }>(op.CREATE_SALES_SESSION, {
      input: { hubId: w.hub, opensAt: '2026-11-30T09:00:00+01:00', closesAt: '2026-12-04T18:00:00+01:00', timeZone: 'Europe/Paris', offers: [] },
    });
    return createSalesSession.salesSession.id;
  };

  /** An offer of carrots in a new session of the own hub's (laterSession()), made by the operator. */
  const laterOffer = async () => {
    const { addOffers } = await t.api.data<{ addOffers: { offers: { id: string }[] } }>(ADD_OFFERS, {
      input: { salesSessionId: await laterSession(), offers: [{ productId: w.carrots, price: { amount: 200, currency: 'EUR' } }] },
    });
    return addOffers.offers[0]!.id;
  };

  const operations: Record<string, { allowed: Role[]; run: (c: GraphQLClient, role: Role) => Promise<Outcome> }> = {
    createProducer: {
      allowed: ['admin'],
      run: async (c) => mutationOutcome(await c.request(op.CREATE_PRODUCER, { input: { name: 'New farm' } })),
    },
    createHub: {
      allowed: ['admin'],
      run: async (c) => mutationOutcome(await c.request(op.CREATE_HUB, { input: { name: 'New hub' } })),
    },
    createProduct: {
      allowed: ['admin', 'ownProducer'],
      run: async (c) => mutationOutcome(await c.request(op.CREATE_PRODUCT, { input: { producerId: w.jean, name: 'Leeks', sku: randomUUID(), unit: 'kg' } })),
    },
    adjustStock: {
      allowed: ['admin', 'ownProducer'],
      run: async (c) => mutationOutcome(await c.request(op.ADJUST_STOCK, { input: { productId: w.carrots, delta: '1' } })),
    },
    approveHub: {
      allowed: ['admin', 'ownProducer'],
      run: async (c) => mutationOutcome(await c.request(
        'mutation ($input: HubApprovalInput!) { approveHub(input: $input) { userErrors { field message code } } }',
        { input: { producerId: w.jean, hubId: w.hub } },
      )),
    },
    createSalesSession: {
      allowed: ['admin', 'ownHub'],
      run: async (c) =>
        mutationOutcome(await c.request(op.CREATE_SALES_SESSION, {
          input: { hubId: w.hub, opensAt: '2026-11-30T09:00:00+01:00', closesAt: '2026-12-04T18:00:00+01:00', timeZone: 'Europe/Paris', offers: [] },
        })),
    },
    updateOfferPrice: {
      allowed: ['admin', 'ownHub'],
      run: async (c) => mutationOutcome(await c.request(
        'mutation ($input: UpdateOfferPriceInput!) { updateOfferPrice(input: $input) { userErrors { field message code } } }',
        { input: { offerId: w.session.offerFor(w.carrots), price: { amount: 250, currency: 'EUR' } } },
      )),
    },
    updateOfferCap: {
      allowed: ['admin', 'ownHub'],
      run: async (c) => mutationOutcome(await c.request(
        'mutation ($input: UpdateOfferCapInput!) { updateOfferCap(input: $input) { userErrors { field message code } } }',
        { input: { offerId: w.session.offerFor(w.carrots), cap: '100000' } },
      )),
    },
    addOffers: {
      allowed: ['admin', 'ownHub'],
      run: async (c) => {
        const salesSessionId = await laterSession();
        return mutationOutcome(await c.request(ADD_OFFERS, { input: { salesSessionId, offers: [{ productId: w.carrots, price: { amount: 200, currency: 'EUR' } }] } }));
      },
    },
    withdrawOffer: {
      allowed: ['admin', 'ownHub'],
      run: async (c) => mutationOutcome(await c.request(WITHDRAW_OFFER, { input: { offerId: await laterOffer() } })),
    },
    restoreOffer: {
      allowed: ['admin', 'ownHub'],
      run: async (c) => {
        const offerId = await laterOffer();
        await t.api.data(WITHDRAW_OFFER, { input: { offerId } });
        return mutationOutcome(await c.request(RESTORE_OFFER, { input: { offerId } }));
      },
    },
    updateSalesSession: {
      allowed: ['admin', 'ownHub'],
      run: async (c) => {
        const salesSessionId = await laterSession();
        return mutationOutcome(await c.request(
          'mutation ($input: UpdateSalesSessionInput!) { updateSalesSession(input: $input) { userErrors { field message code } } }',
          { input: { salesSessionId, closesAt: '2026-12-05T18:00:00+01:00' } },
        ));
      },
    },
    closeSalesSession: {
      allowed: ['admin', 'ownHub'],
      run: async (c) => {
        const salesSessionId = await laterSession();
        return mutationOutcome(await c.request(op.CLOSE_SALES_SESSION, { input: { salesSessionId } }));
      },
    },
    cancelSalesSession: {
      allowed: ['admin', 'ownHub'],
      run: async (c) => {
        const salesSessionId = await laterSession();
        return mutationOutcome(await c.request(
          'mutation ($input: CancelSalesSessionInput!) { cancelSalesSession(input: $input) { userErrors { field message code } } }',
          { input: { salesSessionId } },
        ));
      },
    },
    checkout: {
      allowed: ['admin', 'ownHub'],
      run: async (c) =>
        mutationOutcome(await c.request(op.CHECKOUT, {
          input: { salesSessionId: w.session.id, customerRef: 'ali', idempotencyKey: randomUUID(), lines: [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }] },
        })),
    },
    confirmPayment: {
      allowed: ['admin', 'ownHub'],
      run: async (c) => mutationOutcome(await c.request(op.CONFIRM_PAYMENT, { input: { customerOrderId: await freshOrder() } })),
    },
    extendHold: {
      allowed: ['admin', 'ownHub'],
      run: async (c) => mutationOutcome(await c.request(
        'mutation ($input: CustomerOrderRefInput!) { extendHold(input: $input) { userErrors { field message code } } }',
        { input: { customerOrderId: await freshOrder() } },
      )),
    },
    failPayment: {
      allowed: ['admin', 'ownHub'],
      run: async (c) => mutationOutcome(await c.request(op.FAIL_PAYMENT, { input: { customerOrderId: await freshOrder() } })),
    },
    cancelCustomerOrder: {
      allowed: ['admin', 'ownHub', 'ownCustomer'],
      // Another customer's order is hidden from a customer (customerOrder(id) is null): not found.
      run: async (c, role) =>
        mutationOutcome(await c.request(op.CANCEL_CUSTOMER_ORDER, { input: { customerOrderId: await freshOrder() } }), role === 'otherCustomer'),
    },
    registerWebhook: {
      allowed: ['admin', 'ownHub'],
      run: async (c) =>
        mutationOutcome(await c.request('mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { webhook { id } userErrors { code } } }', {
          input: { url: 'https://trader.example.org/hook', kinds: ['HELD'], hubId: w.hub },
        })),
    },
    'customerOrder(id)': {
      allowed: ['admin', 'ownHub', 'ownCustomer'],
      run: async (c) => readOutcome(await c.request(op.CUSTOMER_ORDER_QUERY, { id: aliOrder }), (d) => d.customerOrder?.id === aliOrder),
    },
    'product { stock }': {
      allowed: ['admin', 'ownProducer'],
      run: async (c) => readOutcome(await c.request(op.PRODUCT_STOCK, { id: w.carrots }), (d) => d.product?.stock?.onHand !== undefined),
    },
    "producerOrders (Jean's at Hub A)": {
      allowed: ['admin', 'ownHub', 'ownProducer'],
      run: async (c) =>
        readOutcome(await c.request(op.PRODUCER_ORDERS, {}), (d) => d.producerOrders.some((o: any) => o.producer.id === w.jean && o.hub.id === w.hub)),
    },
    "salesSession { producerOrders } (Jean's)": {
      allowed: ['admin', 'ownHub', 'ownProducer'],
      run: async (c) =>
        readOutcome(await c.request(op.SESSION_QUERY, { id: w.session.id }), (d) => d.salesSession.producerOrders.some((o: any) => o.producer.id === w.jean)),
    },
    "producerOrders { pickLines } (Jean's lots and locations)": {
      allowed: ['admin', 'ownProducer'],
      run: async (c) =>
        readOutcome(
          await c.request('{ producerOrders(first: 20) { producer { id } pickLines { quantity lots { lot { code } } } } }', {}),
          (d) => d.producerOrders.some((o: any) => o.producer.id === w.jean && Array.isArray(o.pickLines)),
        ),
    },
    "producer { locations } (Jean's)": {
      allowed: ['admin', 'ownProducer'],
      run: async (c) =>
        readOutcome(await c.request('query ($id: ID!) { producer(id: $id) { locations { name } } }', { id: w.jean }), (d) => d.producer?.locations?.length > 0),
    },
    'producer { products } (catalogue)': {
      allowed: [...ROLES],
      run: async (c) =>
        readOutcome(await c.request('query ($id: ID!) { producer(id: $id) { name products { name unit } } }', { id: w.jean }), (d) => d.producer.products.length > 0),
    },
    'salesSession { offers { available } } (catalogue)': {
      allowed: [...ROLES],
      run: async (c) =>
        readOutcome(
          await c.request('query ($id: ID!) { salesSession(id: $id) { status offers { available price { amount } product { name } } } }', { id: w.session.id }),
          (d) => d.salesSession.offers.length === 3,
        ),
    },
    'reservationChanged (Jean)': {
      allowed: ['admin', 'ownProducer'],
      run: async (c) => {
        const sub = await subscribe<{ kind: string }>(c, RESERVATIONS, { producerId: w.jean, after: '0' });
        const outcome = await waitFor('an event or a refusal', async () =>
          sub.received.length > 0 ? ('allowed' as const) : sub.errors.length > 0 ? ('denied' as const) : undefined,
        );
        if (outcome === 'denied') expect(JSON.stringify(sub.errors)).toMatch(/FORBIDDEN|UNAUTHENTICATED|not allowed|Access denied/);
        await sub.close();
        return outcome;
      },
    },
    'availabilityChanged (catalogue)': {
      allowed: [...ROLES],
      run: async (c) => {
        const sub = await subscribe<{ available: string }>(c, AVAILABILITY, { salesSessionId: w.session.id, after: '0' });
        const outcome = await waitFor('an event or a refusal', async () =>
          sub.received.length > 0 ? ('allowed' as const) : sub.errors.length > 0 ? ('denied' as const) : undefined,
        );
        await sub.close();
        return outcome;
      },
    },
  };

  for (const [name, { allowed, run }] of Object.entries(operations)) {
    it(`${name}: allowed for ${allowed.length === ROLES.length ? 'everyone' : allowed.join(', ')}`, async () => {
      const outcomes: Record<string, Outcome> = {};
      for (const role of ROLES) outcomes[role] = await run(clients[role], role);
      const expected = Object.fromEntries(ROLES.map((role) => [role, allowed.includes(role) ? 'allowed' : 'denied']));
      expect(outcomes).toEqual(expected);
    });
  }

  it('lets a producer register webhooks for its own events only', async () => {
    const register = (c: GraphQLClient, input: Record<string, unknown>) =>
      c.request<{ registerWebhook: { webhook: { id: string } | null; userErrors: { code: string }[] } }>(
        'mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { webhook { id } userErrors { code } } }',
        { input: { url: 'https://farm.example.org/hook', kinds: ['HELD'], ...input } },
      );
    const own = await register(clients.ownProducer, {});
    expect(own.data!.registerWebhook.userErrors).toEqual([]);
    const other = await register(clients.ownProducer, { producerId: w.marie });
    expect(other.data!.registerWebhook.userErrors).toEqual([{ code: 'FORBIDDEN' }]);
    const id = own.data!.registerWebhook.webhook!.id;
    const read = (c: GraphQLClient) => c.request<{ webhook: { id: string } | null }>('query ($id: ID!) { webhook(id: $id) { id } }', { id });
    expect((await read(clients.ownProducer)).data!.webhook).toEqual({ id });
    expect((await read(clients.otherProducer)).data!.webhook).toBeNull();
  });

  it("keeps a hub's webhook the hub's when the operator registered it for one of its producers", async () => {
    const { registerWebhook } = await t.api.data<{ registerWebhook: { webhook: { id: string } } }>(
      'mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { webhook { id } } }',
      { input: { url: 'https://trader.example.org/hooks/hub-a', kinds: ['HELD'], hubId: w.hub, producerId: w.jean } },
    );
    const id = registerWebhook.webhook.id;
    const read = (client: GraphQLClient) => client.data<{ webhook: { id: string; active: boolean } | null }>('query ($id: ID!) { webhook(id: $id) { id active } }', { id });
    expect((await read(clients.ownHub)).webhook).toEqual({ id, active: true });
    // The producer it filters on may neither read it (its URL, its deliveries) nor remove it.
    expect((await read(clients.ownProducer)).webhook).toBeNull();
    const removed = await clients.ownProducer.data<{ removeWebhook: { userErrors: { code: string }[] } }>(
      'mutation ($id: ID!) { removeWebhook(input: { webhookId: $id }) { userErrors { code } } }', { id });
    expect(removed.removeWebhook.userErrors).toMatchObject([{ code: 'NOT_FOUND' }]);
    expect((await read(clients.ownHub)).webhook).toEqual({ id, active: true });
  });

  it("answers a hub that selects a producer's pick lines with the rest of its producer orders, and null for those", async () => {
    const response = await clients.ownHub.request<{ producerOrders: { producer: { id: string }; pickLines: unknown }[] }>(
      '{ producerOrders(first: 20) { producer { id } pickLines { quantity } } }',
    );
    expect(response.errors?.map((e) => e.extensions?.code)).toContain('FORBIDDEN');
    const jeans = response.data!.producerOrders.filter((o) => o.producer.id === w.jean);
    expect(jeans.length).toBeGreaterThan(0);
    for (const order of jeans) expect(order.pickLines).toBeNull();
  });

  it('never lets one producer see another through nested fields', async () => {
    await createProducer(t.api, 'Unrelated farm');
    const response = await clients.otherProducer.request<{ producerOrders: { producer: { id: string } }[] }>(op.PRODUCER_ORDERS, { producerId: w.jean });
    expect(response.data!.producerOrders).toEqual([]);
  });
});
