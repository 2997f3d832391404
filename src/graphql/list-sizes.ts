import {
  getNamedType,
  getNullableType,
  type GraphQLField,
  type GraphQLSchema,
  isCompositeType,
  isListType,
  isObjectType,
  type GraphQLType,
} from 'graphql';
import { MAX_BASKET_LINES } from '../modules/orders/checkout.service.js';
import { MAX_OFFERS_PER_SESSION } from '../modules/sessions/sales-session.service.js';
import { MAX_USER_ERRORS } from '../shared/errors.js';
import { MAX_LIST } from './lists.js';

/**
 * How many items each list field of the API can return, for the query cost: a list costs what
 * one item's selection costs times this many items, so a query's cost follows the size of the
 * answer it can get, however its lists nest (the graph loops: offers → product → producer →
 * products → …).
 *
 * Lists with a `first:` argument are counted at `first` (at most their cap). The others at their
 * cap when the platform enforces one, else at the size the largest hub we plan for reaches (a
 * judgement: nothing stops a producer creating a 60th location, and that answer then costs more
 * than counted). Anonymous callers reach only capped lists (offers, products, sessions), so
 * their cost is a true bound.
 *
 * Every list of objects in the schema must be named here (or be a list of UserError): the server
 * refuses to start otherwise, so a new list cannot slip in at the cost of one field.
 */
const CAPPED: Readonly<Record<string, number>> = {
  // `first:` lists: listSize() never asks for more than MAX_LIST.
  'Query.producerOrders': MAX_LIST,
  'Query.customerOrders': MAX_LIST,
  'Query.webhooks': MAX_LIST,
  'Hub.salesSessions': MAX_LIST,
  'Producer.products': MAX_LIST,
  'Webhook.deliveries': MAX_LIST,
  'Product.lots': MAX_LIST,
  'Product.stockMovements': MAX_LIST,
  // createSalesSession refuses more offers; a storefront reads them all at once.
  'SalesSession.offers': MAX_OFFERS_PER_SESSION,
  // addOffers answers with the offers asked for: no more than a session has.
  'AddOffersPayload.offers': MAX_OFFERS_PER_SESSION,
  // checkout refuses bigger baskets.
  'CustomerOrder.lines': MAX_BASKET_LINES,
};

/**
 * Lists nothing caps, at the size we plan for (see above); each is readable only with a token. Big
 * enough for a large hub's producers, small enough that the pages producers and hubs really ask
 * for (500 producer orders with their lines) stay under the default limit. One has a cap far
 * above what anyone plans for, counted here too: a pack list customer's lines are one producer's
 * products in one basket, at most a basket's 200 lines (MAX_BASKET_LINES), and counted at that a
 * hub's pack list with its lines could never be read. A basket built to it makes the read at
 * most five times what was counted.
 */
const PLANNED: Readonly<Record<string, number>> = {
  // A producer's stock locations: a farm, a cold store, a shop or two.
  'Producer.locations': 20,
  'Product.stockByLocation': 20,
  'PickLine.untracked': 20,
  'PickItem.untracked': 20,
  'PickList.zones': 20,
  // The products one producer sells in one session (and so one customer, in a pack list).
  'ProducerOrder.lines': 40,
  'PackListCustomer.lines': 40,
  'ProducerOrder.pickLines': 40,
  'ProducerOrder.shipment': 40,
  'PickWave.items': 40,
  // The products one producer delivers on one day, over every hub.
  'PickList.items': 100,
  'PickZone.items': 100,
  // Lots a line is picked from.
  'PickLine.lots': 10,
  'PickItem.lots': 10,
  // The producers selling in one session.
  // A producer sells through a few hubs; a hub buys from tens of producers.
  'Producer.approvedHubs': 20,
  'Hub.producers': 100,
  'SalesSession.producerOrders': 100,
  // The hubs (and their sessions) a producer delivers to on one day.
  'Query.packList': 20,
  'PickList.waves': 20,
  'PickWave.producerOrders': 20,
  // A hub's customer orders holding one producer's goods for one delivery.
  'PackListHub.customers': 200,
  // Tries of one delivery: a day or two of hourly retries once the backoff is at its longest.
  'WebhookDelivery.attempts': 50,
  // Products an operator's reconciliation finds adrift: none, when all is well.
  'Query.stockReconciliation': 100,
};

/**
 * Lists that an argument narrows to a few items when it is given, counted at the size we plan for
 * then: `packList(hubId:)` holds one hub's consignments, one per session delivering that day (a
 * hub runs a session or two, three at most, for one delivery), so a client reading its customers'
 * lines is not charged for twenty hubs.
 */
const NARROWED: Readonly<Record<string, { argument: string; max: number }>> = {
  'Query.packList': { argument: 'hubId', max: 3 },
};

/** The arguments that change what a list costs (the estimator reads them): `first:` and the narrowing ones. */
export const SIZE_ARGUMENTS: ReadonlySet<string> = new Set(['first', ...Object.values(NARROWED).map((n) => n.argument)]);

export interface ListSize {
  /** The most items the cost counts. */
  max: number;
  /** The field's `first:` argument, when it has one: asking for fewer costs less. */
  paged: boolean;
  /** An argument that, given, leaves about `max` items (NARROWED). */
  narrowedBy?: { argument: string; max: number };
}

/** The size the cost counts for `parent.field`, or undefined when it is not a list of objects. */
export function listSizeOf(parent: string, field: GraphQLField<unknown, unknown>): ListSize | undefined {
  // Introspection is small and switched on or off as a whole (INTROSPECTION).
  if (parent.startsWith('__') || !isListOfObjects(field.type)) return undefined;
  const key = `${parent}.${field.name}`;
  const max = CAPPED[key] ?? PLANNED[key] ?? (getNamedType(field.type).name === 'UserError' ? MAX_USER_ERRORS : undefined);
  if (max === undefined) throw new Error(`${key} is a list with no size for the query cost: add it to src/graphql/list-sizes.ts`);
  return { max, paged: field.args.some((arg) => arg.name === 'first'), narrowedBy: NARROWED[key] };
}

/** Throws, naming them, when lists of objects in the schema have no size: called at start. */
export function assertEveryListHasASize(schema: GraphQLSchema): void {
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      try {
        listSizeOf(type.name, field);
      } catch {
        missing.push(`${type.name}.${field.name}`);
      }
    }
  }
  if (missing.length > 0) throw new Error(`lists with no size for the query cost (src/graphql/list-sizes.ts): ${missing.join(', ')}`);
}

/** Lists of scalars cost what a scalar does: their items have no selection to multiply. */
function isListOfObjects(type: GraphQLType): boolean {
  const nullable = getNullableType(type);
  return isListType(nullable) && isCompositeType(getNamedType(nullable));
}
