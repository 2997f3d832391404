import 'reflect-metadata';
import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { ProductResolver } from '../modules/catalogue/product.resolver.js';
import { HubResolver, ProducerResolver } from '../modules/enterprises/enterprise.resolver.js';
import { CustomerOrderLineResolver, CustomerOrderResolver } from '../modules/orders/customer-order.resolver.js';
import { ProducerOrderResolver } from '../modules/orders/producer-order.resolver.js';
import { OfferResolver } from '../modules/sessions/offer.resolver.js';
import { SalesSessionResolver } from '../modules/sessions/sales-session.resolver.js';
import { StockResolver } from '../modules/stock/stock.resolver.js';

const resolvers = [
  ProducerResolver,
  HubResolver,
  ProductResolver,
  StockResolver,
  SalesSessionResolver,
  OfferResolver,
  CustomerOrderResolver,
  CustomerOrderLineResolver,
  ProducerOrderResolver,
] as const;

export function buildAppSchema(): Promise<GraphQLSchema> {
  // Inputs are checked by the services, which report problems as typed userErrors with field paths.
  return buildSchema({ resolvers, validate: false });
}

/** The SDL committed as schema/schema.graphql: sorted, so a diff shows only real changes. */
export function printAppSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
