import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { GraphQLClient } from '../support/graphql.js';
import * as op from '../support/operations.js';
import { checkout, createHub, createProducer, createProduct, orderMutation } from '../support/scenarios.js';
import type { TestApp } from '../support/test-app.js';

export const OPENS = '2026-11-23T07:00:00+01:00';
export const CLOSES = '2026-11-23T20:00:00+01:00';
/** Deliveries for the sessions below: Wednesday morning, Paris. */
export const DELIVERS = '2026-11-25T08:00:00+01:00';
export const DELIVERY_DAY = '2026-11-25';

const U = 'userErrors { field message code }';

export const SHIP = `mutation ($input: ShipProducerOrderInput!) { shipProducerOrder(input: $input) {
  producerOrder { id fulfilmentState carrier trackingReference shipment { product { id } ordered quantity weightKg } }
  userErrors { field message code } } }`;
export const SWAP = `mutation ($input: SwapLotInput!) { swapLot(input: $input) { producerOrder { id } userErrors { field message code } } }`;

export async function addLocation(api: GraphQLClient, producerId: string, name: string, priority: number): Promise<string> {
  const { createLocation } = await api.data<{ createLocation: { location: { id: string }; userErrors: unknown[] } }>(
    `mutation ($input: CreateLocationInput!) { createLocation(input: $input) { location { id } ${U} } }`,
    { input: { producerId, name, priority } },
  );
  expect(createLocation.userErrors).toEqual([]);
  return createLocation.location.id;
}

export async function locationsOf(api: GraphQLClient, producerId: string): Promise<{ id: string; name: string; priority: number }[]> {
  const { producer } = await api.data<{ producer: { locations: { id: string; name: string; priority: number }[] } }>(
    'query ($id: ID!) { producer(id: $id) { locations { id name priority } } }',
    { id: producerId },
  );
  return producer.locations;
}

export async function adjustAt(api: GraphQLClient, productId: string, locationId: string, delta: string) {
  const { adjustStock } = await api.data<{ adjustStock: { userErrors: unknown[] } }>(
    `mutation ($input: AdjustStockInput!) { adjustStock(input: $input) { ${U} } }`,
    { input: { productId, locationId, delta } },
  );
  expect(adjustStock.userErrors).toEqual([]);
}

export async function stockByLocation(api: GraphQLClient, productId: string) {
  const { product } = await api.data<{ product: { stockByLocation: { location: { name: string }; onHand: string; held: string; committed: string; available: string }[] } }>(
    'query ($id: ID!) { product(id: $id) { stockByLocation { location { name } onHand held committed available } } }',
    { id: productId },
  );
  return Object.fromEntries(product.stockByLocation.map(({ location, ...figures }) => [location.name, figures]));
}

export interface LotFields {
  code: string;
  quantity: string;
  grade?: string;
  bestBefore?: string;
  kind?: string;
  locationId?: string;
  released?: boolean;
}

export async function receiveLot(api: GraphQLClient, productId: string, fields: LotFields): Promise<string> {
  const { receiveLot } = await api.data<{ receiveLot: { lot: { id: string }; userErrors: unknown[] } }>(
    `mutation ($input: ReceiveLotInput!) { receiveLot(input: $input) { lot { id } ${U} } }`,
    { input: { productId, grade: 'CLASS_I', released: true, ...fields } },
  );
  expect(receiveLot.userErrors).toEqual([]);
  return receiveLot.lot.id;
}

export async function createOfferSession(
  api: GraphQLClient,
  hubId: string,
  offers: { productId: string; minGrade?: string; minShelfLifeDays?: number }[],
  { closesAt = CLOSES, deliversAt = DELIVERS }: { closesAt?: string; deliversAt?: string } = {},
): Promise<{ id: string; offerFor(productId: string): string }> {
  const { createSalesSession } = await api.data<{ createSalesSession: { salesSession: { id: string; offers: { id: string; product: { id: string } }[] }; userErrors: unknown[] } }>(
    op.CREATE_SALES_SESSION.replace('offers {', 'deliversAt offers {'),
    {
      input: {
        hubId, opensAt: OPENS, closesAt, deliversAt, timeZone: 'Europe/Paris',
        offers: offers.map((o) => ({ ...o, price: { amount: 300, currency: 'EUR' } })),
      },
    },
  );
  expect(createSalesSession.userErrors).toEqual([]);
  const session = createSalesSession.salesSession;
  return { id: session.id, offerFor: (productId) => session.offers.find((o) => o.product.id === productId)!.id };
}

/** Checks out and pays; returns the customer order id. */
export async function buy(api: GraphQLClient, sessionId: string, customerRef: string, offerId: string, quantity: string): Promise<string> {
  const result = await checkout(api, sessionId, customerRef, [{ offerId, quantity }], randomUUID());
  expect(result.userErrors).toEqual([]);
  const paid = await orderMutation(api, op.CONFIRM_PAYMENT, result.customerOrder!.id);
  expect(paid.customerOrder?.status).toBe('CONFIRMED');
  return result.customerOrder!.id;
}

/** Closes every open session on the clock and lets the scheduler complete them. */
export async function closeSessions(t: TestApp): Promise<void> {
  t.clock.set(CLOSES);
  await t.app.scheduler.runOnce();
}

export async function producerOrderOf(api: GraphQLClient, producerId: string, sessionId: string): Promise<string> {
  const { producerOrders } = await api.data<{ producerOrders: { id: string }[] }>(
    'query ($p: ID, $s: ID) { producerOrders(producerId: $p, salesSessionId: $s) { id } }',
    { p: producerId, s: sessionId },
  );
  return producerOrders[0]!.id;
}

export const PICK_LINES = `query ($id: ID!) { producerOrders(producerId: $id, first: 10) { id fulfilmentState pickLines {
  product { id } quantity deliveryDay criteria { minGrade minShelfLifeDays }
  lots { lot { id code } location { name } quantity pinned replacedLot { id } }
  untracked { location { name } quantity } short } } }`;

export interface PickLineShape {
  product: { id: string };
  quantity: string;
  deliveryDay: string;
  criteria: { minGrade: string | null; minShelfLifeDays: number | null };
  lots: { lot: { id: string; code: string }; location: { name: string }; quantity: string; pinned: boolean; replacedLot: { id: string } | null }[];
  untracked: { location: { name: string }; quantity: string }[];
  short: string;
}

export async function pickLines(api: GraphQLClient, producerId: string, producerOrderId: string): Promise<PickLineShape[]> {
  const { producerOrders } = await api.data<{ producerOrders: { id: string; pickLines: PickLineShape[] }[] }>(PICK_LINES, { id: producerId });
  return producerOrders.find((o) => o.id === producerOrderId)!.pickLines;
}

export async function world(t: TestApp) {
  const farm = await createProducer(t.api, `Farm ${randomUUID().slice(0, 4)}`);
  const hub = await createHub(t.api, 'Hub A');
  const [main] = await locationsOf(t.api, farm);
  return { farm, hub, main: main!.id, product: (name: string, unit = 'kg') => createProduct(t.api, farm, { name, unit }) };
}
