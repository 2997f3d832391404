// What a hub owes a producer: each customer line keeps the producer's wholesale price as it was at
// checkout, so a producer order's lines and total stay what was agreed, whatever the price later.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANCEL_CUSTOMER_ORDER, CLOSE_SALES_SESSION, CONFIRM_PAYMENT } from '../support/operations.js';
import type { GraphQLClient } from '../support/graphql.js';
import { approveHub, checkout, createHub, createProducer, createProduct, createSession, orderMutation } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const OPEN = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00' };

const PRODUCER_ORDER = `query ($id: ID!) { salesSession(id: $id) { producerOrders {
  orderState wholesaleTotal { amount currency }
  lines { product { id } quantity wholesalePrice { amount currency } wholesaleTotal { amount currency } } } } }`;

interface OrderView {
  orderState: string;
  wholesaleTotal: { amount: number; currency: string } | null;
  lines: { product: { id: string }; quantity: string; wholesalePrice: { amount: number; currency: string } | null; wholesaleTotal: { amount: number; currency: string } | null }[];
}

describe('wholesale prices on producer orders', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  async function setWholesalePrice(productId: string, price: { amount: number; currency: string } | null) {
    const { updateProduct } = await t.api.data<{ updateProduct: { userErrors: unknown[] } }>(
      'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { field message code } } }',
      { input: { productId, wholesalePrice: price } },
    );
    expect(updateProduct.userErrors).toEqual([]);
  }

  async function producerOrder(api: GraphQLClient, sessionId: string): Promise<OrderView> {
    const { salesSession } = await api.data<{ salesSession: { producerOrders: OrderView[] } }>(PRODUCER_ORDER, { id: sessionId });
    expect(salesSession.producerOrders).toHaveLength(1);
    return salesSession.producerOrders[0]!;
  }

  async function sale(name: string, price: number | null) {
    const producer = await createProducer(t.api, `${name} farm`);
    const product = await createProduct(t.api, producer, { name, onHand: '100' });
    if (price !== null) await setWholesalePrice(product, { amount: price, currency: 'EUR' });
    const hub = await createHub(t.api, `${name} hub`);
    await approveHub(t.api, producer, hub);
    const session = await createSession(t.api, hub, { ...OPEN, products: [product] });
    const buy = async (customer: string, quantity: string) => {
      const placed = await checkout(t.api, session.id, customer, [{ offerId: session.offerFor(product), quantity }]);
      expect(placed.userErrors).toEqual([]);
      return placed.customerOrder!.id;
    };
    return { producer, product, hub, session, buy };
  }

  it('keeps the price each customer checked out at, for the producer and the hub, through the close', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const { producer, product, hub, session, buy } = await sale('Leeks', 200);
    const early = await buy('ann', '2.5');
    await setWholesalePrice(product, { amount: 230, currency: 'EUR' });
    const late = await buy('bob', '1.5');

    // 2.5 at 200 and 1.5 at 230: no one unit price, 500 + 345 owed.
    const mixed = await producerOrder(t.api, session.id);
    expect(mixed).toEqual({
      orderState: 'HELD',
      wholesaleTotal: { amount: 845, currency: 'EUR' },
      lines: [{ product: { id: product }, quantity: '4', wholesalePrice: null, wholesaleTotal: { amount: 845, currency: 'EUR' } }],
    });
    // The producer and the hub, each with its own token, read the same figures.
    expect(await producerOrder(await t.as({ role: 'producer', producerId: producer }), session.id)).toEqual(mixed);
    expect(await producerOrder(await t.as({ role: 'hub', hubId: hub }), session.id)).toEqual(mixed);

    // The first customer cancels: what is left was checked out at 230.
    await orderMutation(t.api, CANCEL_CUSTOMER_ORDER, early);
    await orderMutation(t.api, CONFIRM_PAYMENT, late);
    const left = { amount: 345, currency: 'EUR' };
    expect(await producerOrder(t.api, session.id)).toMatchObject({ wholesaleTotal: left, lines: [{ quantity: '1.5', wholesalePrice: { amount: 230, currency: 'EUR' }, wholesaleTotal: left }] });

    // Completed, and the producer's price moves on: the order keeps what was agreed.
    await t.api.data(CLOSE_SALES_SESSION, { input: { salesSessionId: session.id } });
    await t.app.scheduler.runOnce();
    await setWholesalePrice(product, { amount: 999, currency: 'EUR' });
    expect(await producerOrder(t.api, session.id)).toMatchObject({ orderState: 'COMPLETE', wholesaleTotal: left, lines: [{ wholesalePrice: { amount: 230, currency: 'EUR' } }] });
  });

  it('rounds what is owed at each price once, as an invoice line does, not once per customer', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const { session, buy } = await sale('Radishes', 3);
    // Two customers' 0.5 at 3 cents: 1.5 each would round to 2 + 2; the line is 1 at 3, so 3.
    await buy('ann', '0.5');
    await buy('bob', '0.5');
    expect(await producerOrder(t.api, session.id)).toMatchObject({
      wholesaleTotal: { amount: 3, currency: 'EUR' },
      lines: [{ quantity: '1', wholesalePrice: { amount: 3, currency: 'EUR' }, wholesaleTotal: { amount: 3, currency: 'EUR' } }],
    });
  });

  it('shows a hub the producer has not approved, or has revoked, no wholesale figure on its orders: FORBIDDEN, as on the product', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const { producer, product, hub, session, buy } = await sale('Saffron', 640);
    // The operator makes a session for a hub the producer never approved (it acts for everyone).
    const stranger = await createHub(t.api, 'Saffron stranger hub');
    const strangers = await createSession(t.api, stranger, { ...OPEN, products: [product] });
    expect((await checkout(t.api, strangers.id, 'ann', [{ offerId: strangers.offerFor(product), quantity: '1' }])).userErrors).toEqual([]);
    await buy('bob', '1');
    // The approved hub is revoked: its session goes on selling, and the producer's next price is
    // for the hubs it still works with.
    const { revokeHub } = await t.api.data<{ revokeHub: { userErrors: unknown[] } }>(
      'mutation ($input: HubApprovalInput!) { revokeHub(input: $input) { userErrors { field code } } }',
      { input: { producerId: producer, hubId: hub } },
    );
    expect(revokeHub.userErrors).toEqual([]);
    await setWholesalePrice(product, { amount: 777, currency: 'EUR' });
    await buy('cem', '1');

    for (const [hubId, sessionId] of [[stranger, strangers.id], [hub, session.id]] as const) {
      const asHub = await t.as({ role: 'hub', hubId });
      const answer = await asHub.request<{ salesSession: { producerOrders: OrderView[] } }>(PRODUCER_ORDER, { id: sessionId });
      const [order] = answer.data!.salesSession.producerOrders;
      // The order and its quantities, without a price.
      expect(order).toMatchObject({ wholesaleTotal: null, lines: [{ product: { id: product }, wholesalePrice: null, wholesaleTotal: null }] });
      expect(new Set(answer.errors?.map((e) => e.extensions?.code))).toEqual(new Set(['FORBIDDEN']));
      expect(answer.errors?.map((e) => e.path?.slice(-1)[0]).sort()).toEqual(['wholesalePrice', 'wholesaleTotal', 'wholesaleTotal']);
      // As the product's own price is refused.
      const direct = await asHub.request('query ($id: ID!) { product(id: $id) { wholesalePrice { amount } } }', { id: product });
      expect(direct.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    }
    // The producer reads both orders, each line at the price it was checked out at.
    const asProducer = await t.as({ role: 'producer', producerId: producer });
    expect(await producerOrder(asProducer, strangers.id)).toMatchObject({ wholesaleTotal: { amount: 640, currency: 'EUR' } });
    expect(await producerOrder(asProducer, session.id)).toMatchObject({ wholesaleTotal: { amount: 640 + 777, currency: 'EUR' }, lines: [{ quantity: '2', wholesalePrice: null }] });
  });

  it('owes no figure for what was checked out without a wholesale price, or in two currencies', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const unpriced = await sale('Sorrel', null);
    await unpriced.buy('ann', '1');
    // The price the producer sets afterwards is not what these customers checked out at.
    await setWholesalePrice(unpriced.product, { amount: 100, currency: 'EUR' });
    await unpriced.buy('bob', '1');
    expect(await producerOrder(t.api, unpriced.session.id)).toMatchObject({ wholesaleTotal: null, lines: [{ quantity: '2', wholesalePrice: null, wholesaleTotal: null }] });

    const twoCurrencies = await sale('Chard', 100);
    await twoCurrencies.buy('ann', '1');
    await setWholesalePrice(twoCurrencies.product, { amount: 100, currency: 'CHF' });
    await twoCurrencies.buy('bob', '1');
    expect(await producerOrder(t.api, twoCurrencies.session.id)).toMatchObject({ wholesaleTotal: null, lines: [{ wholesalePrice: null, wholesaleTotal: null }] });
  });
});
