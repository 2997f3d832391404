import 'reflect-metadata';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchema, type PubSub } from 'type-graphql';
import { assertEveryRootFieldHasARule, authChecker } from '../auth/access.js';
import { ProductResolver } from '../modules/catalogue/product.resolver.js';
import { HubResolver, ProducerResolver } from '../modules/enterprises/enterprise.resolver.js';
import { CustomerOrderLineResolver, CustomerOrderResolver } from '../modules/orders/customer-order.resolver.js';
import { ProducerOrderLineResolver, ProducerOrderResolver } from '../modules/orders/producer-order.resolver.js';
import { OfferResolver } from '../modules/sessions/offer.resolver.js';
import { SalesSessionResolver } from '../modules/sessions/sales-session.resolver.js';
import { AvailabilityEventResolver, FulfilmentEventResolver, ReservationEventResolver } from '../modules/live/live.resolver.js';
import { WebhookDeliveryResolver, WebhookResolver } from '../modules/webhooks/webhook.resolver.js';
import { StockMovementResolver, StockResolver } from '../modules/stock/stock.resolver.js';
import { LocationResolver } from '../modules/stock/location.resolver.js';
import { LotResolver } from '../modules/lots/lot.resolver.js';
import { FulfilmentResolver, ProducerOrderFulfilmentResolver } from '../modules/fulfilment/fulfilment.resolver.js';
import type { GraphQLContext } from './context.js';

const resolvers = [
  ProducerResolver,
  HubResolver,
  ProductResolver,
  StockResolver,
  StockMovementResolver,
  LocationResolver,
  LotResolver,
  FulfilmentResolver,
  ProducerOrderFulfilmentResolver,
  SalesSessionResolver,
  OfferResolver,
  CustomerOrderResolver,
  CustomerOrderLineResolver,
  ProducerOrderResolver,
  ProducerOrderLineResolver,
  ReservationEventResolver,
  AvailabilityEventResolver,
  FulfilmentEventResolver,
  WebhookResolver,
  WebhookDeliveryResolver,
] as const;

/** For building the schema without serving it (emitting the SDL): subscriptions then cannot run. */
const detachedPubSub: PubSub = {
  publish: () => {
    throw new Error('detached schema');
  },
  subscribe: () => {
    throw new Error('detached schema');
  },
};

/**
 * `pubSub` is the process's EventHub. Subscriptions open their streams through the context, but
 * type-graphql wants a PubSub for any schema that has them.
 */
export async function buildAppSchema(pubSub: PubSub = detachedPubSub): Promise<GraphQLSchema> {
  // Inputs are checked by the services, which report problems as typed userErrors with field paths.
  const schema = await buildSchema({ resolvers, validate: false, pubSub, authChecker, authMode: 'error' });
  assertEveryRootFieldHasARule(schema);
  freshDataForEachMutation(schema);
  return schema;
}

/**
 * Mutation fields run one after another; each answers from what the database holds after its
 * own write. The request's batch loaders and unit of work keep what they read, so every mutation
 * after a request's first starts with new ones (`renew()`): a second checkout in the same document
 * would otherwise report the availability the first one read.
 */
function freshDataForEachMutation(schema: GraphQLSchema): void {
  const mutated = new WeakSet<GraphQLContext>();
  for (const field of Object.values(schema.getMutationType()?.getFields() ?? {})) {
    const resolve = field.resolve;
    if (!resolve) continue;
    field.resolve = (source, args, context: GraphQLContext, info) => {
      if (mutated.has(context)) context.renew();
      else mutated.add(context);
      return resolve(source, args, context, info);
    };
  }
}

/** The SDL committed as schema/schema.graphql: sorted, so a diff shows only real changes. */
export function printAppSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
