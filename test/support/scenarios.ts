// Factories that build the world a test needs through the public API, as a hub or producer would.
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { GraphQLClient } from './graphql.js';
import * as op from './operations.js';

export interface UserErrorShape {
  field: string[] | null;
  message: string;
  code: string;
}

export interface CustomerOrderShape {
  id: string;
  status: string;
  customerRef: string;
  holdExpiresAt: string | null;
  salesSession: { id: string };
  lines: { quantity: string; offer: { id: string }; product: { id: string } }[];
}

export interface CheckoutResult {
  customerOrder: CustomerOrderShape | null;
  userErrors: UserErrorShape[];
}

export async function createProducer(api: GraphQLClient, name: string): Promise<string> {
  const { createProducer } = await api.data<{ createProducer: { producer: { id: string }; userErrors: unknown[] } }>(
    op.CREATE_PRODUCER,
    { input: { name } },
  );
  expect(createProducer.userErrors).toEqual([]);
  return createProducer.producer.id;
}

export async function createHub(api: GraphQLClient, name: string): Promise<string> {
  const { createHub } = await api.data<{ createHub: { hub: { id: string }; userErrors: unknown[] } }>(op.CREATE_HUB, { input: { name } });
  expect(createHub.userErrors).toEqual([]);
  return createHub.hub.id;
}

/** The producer lets the hub offer its products (approveHub), as the operator records it. */
export async function approveHub(api: GraphQLClient, producerId: string, hubId: string): Promise<void> {
  const { approveHub: payload } = await api.data<{ approveHub: { userErrors: unknown[] } }>(
    'mutation ($input: HubApprovalInput!) { approveHub(input: $input) { userErrors { field message code } } }',
    { input: { producerId, hubId } },
  );
  expect(payload.userErrors).toEqual([]);
}

/** A product with `onHand` of stock (adjusted in through the API, so the ledger has it). */
export async function createProduct(
  api: GraphQLClient,
  producerId: string,
  fields: { name: string; unit?: string; sku?: string; onHand?: string },
): Promise<string> {
  const { createProduct } = await api.data<{ createProduct: { product: { id: string }; userErrors: unknown[] } }>(
    op.CREATE_PRODUCT,
    { input: { producerId, name: fields.name, sku: fields.sku ?? `SKU-${randomUUID().slice(0, 8)}`, unit: fields.unit ?? 'kg' } },
  );
  expect(createProduct.userErrors).toEqual([]);
  if (fields.onHand) await adjustStock(api, createProduct.product.id, fields.onHand, 'initial stock');
  return createProduct.product.id;
}

export async function adjustStock(api: GraphQLClient, productId: string, delta: string, reason?: string) {
  const { adjustStock } = await api.data<{ adjustStock: { product: unknown; userErrors: UserErrorShape[] } }>(
    op.ADJUST_STOCK,
    { input: { productId, delta, reason } },
  );
  return adjustStock;
}

export interface SessionShape {
  id: string;
  status: string;
  opensAt: string;
  closesAt: string;
  offers: { id: string; product: { id: string }; available: string }[];
}

/** A session with one offer per product (price 250 EUR cents unless given), capped where `caps` says. */
export async function createSession(
  api: GraphQLClient,
  hubId: string,
  fields: { opensAt: string; closesAt: string; timeZone?: string; products: string[]; price?: number; caps?: Record<string, string> },
): Promise<SessionShape & { offerFor(productId: string): string }> {
  const { createSalesSession } = await api.data<{ createSalesSession: { salesSession: SessionShape; userErrors: unknown[] } }>(
    op.CREATE_SALES_SESSION,
    {
      input: {
        hubId,
        opensAt: fields.opensAt,
        closesAt: fields.closesAt,
        timeZone: fields.timeZone ?? 'Europe/Paris',
        offers: fields.products.map((productId) => ({
          productId,
          price: { amount: fields.price ?? 250, currency: 'EUR' },
          ...(fields.caps?.[productId] ? { cap: fields.caps[productId] } : {}),
        })),
      },
    },
  );
  expect(createSalesSession.userErrors).toEqual([]);
  const session = createSalesSession.salesSession;
  return {
    ...session,
    offerFor(productId: string) {
      const offer = session.offers.find((o) => o.product.id === productId);
      if (!offer) throw new Error(`no offer for ${productId}`);
      return offer.id;
    },
  };
}

export async function checkout(
  api: GraphQLClient,
  salesSessionId: string,
  customerRef: string,
  lines: { offerId: string; quantity: string }[],
  idempotencyKey: string = randomUUID(),
): Promise<CheckoutResult> {
  const { checkout } = await api.data<{ checkout: CheckoutResult }>(op.CHECKOUT, {
    input: { salesSessionId, customerRef, lines, idempotencyKey },
  });
  return checkout;
}

/** Sends confirmPayment, failPayment or cancelCustomerOrder and returns its payload. */
export async function orderMutation(api: GraphQLClient, mutation: string, customerOrderId: string): Promise<CheckoutResult> {
  const data = await api.data<Record<string, CheckoutResult>>(mutation, { input: { customerOrderId } });
  return Object.values(data)[0]!;
}

export async function stockOf(api: GraphQLClient, productId: string) {
  const { product } = await api.data<{ product: { stock: { onHand: string; held: string; committed: string; available: string } } }>(
    op.PRODUCT_STOCK,
    { id: productId },
  );
  return product.stock;
}

export interface ProducerOrderShape {
  id: string;
  orderState: string;
  fulfilmentState: string;
  producer: { id: string };
  hub: { id: string };
  lines: { product: { id: string }; quantity: string }[];
}

export async function sessionView(api: GraphQLClient, id: string) {
  const { salesSession } = await api.data<{
    salesSession: SessionShape & { timeZone: string; producerOrders: ProducerOrderShape[] };
  }>(op.SESSION_QUERY, { id });
  return salesSession;
}
