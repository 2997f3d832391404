import type { EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import DataLoader from 'dataloader';
import { Product } from '../modules/catalogue/product.entity.js';
import { Hub } from '../modules/enterprises/hub.entity.js';
import { Producer } from '../modules/enterprises/producer.entity.js';
import { approvalsOf } from '../modules/enterprises/hub-approvals.js';
import { CustomerOrderLine } from '../modules/orders/customer-order-line.entity.js';
import { ProducerOrder } from '../modules/orders/producer-order.entity.js';
import type { ProducerOrderLineRow } from '../modules/orders/producer-order.service.js';
import { Offer } from '../modules/sessions/offer.entity.js';
import { SalesSession } from '../modules/sessions/sales-session.entity.js';
import { hubSessions } from '../modules/sessions/sales-session.service.js';
import type { LocationFigures, StockFigures } from '../modules/stock/stock.service.js';
import { Location } from '../modules/stock/location.entity.js';
import { Lot } from '../modules/lots/lot.entity.js';
import { productLots } from '../modules/lots/lot.service.js';
import { producerProducts } from '../modules/catalogue/product.service.js';
import { productLedgers } from '../modules/stock/stock-ledger.js';
import { CustomerOrder } from '../modules/orders/customer-order.entity.js';
import { ShipmentLine } from '../modules/fulfilment/shipment-line.entity.js';
import { type AttemptRow, webhookDeliveries } from '../modules/webhooks/webhook.service.js';
import type { Services } from '../services.js';
import type { PlannedLine } from '../modules/fulfilment/pick-planner.js';
import { type OfferRecord, readSessionCatalogues } from '../modules/sessions/catalogue-read.js';

/**
 * Per-request batching for field resolvers: a list of N offers costs one query per kind of
 * field, not N. Created with the request's entity manager and dropped with the request.
 */
export function createLoaders(em: EntityManager, services: Services, readAt: () => Date) {
  const loaders = {
    producer: byId(em, Producer),
    hub: byId(em, Hub),
    product: byId(em, Product),
    salesSession: byId(em, SalesSession),
    offer: byId(em, Offer),
    producerOrder: byId(em, ProducerOrder),
    location: byId(em, Location),
    lot: byId(em, Lot),
    customerOrder: byId(em, CustomerOrder),
    shipmentLines: grouped(em, ShipmentLine, 'producerOrderId', { productId: 'asc' }),
    locationsByProducer: grouped(em, Location, 'producer', { priority: 'asc', id: 'asc' }),
    stockByLocation: new DataLoader<string, LocationFigures[]>(async (ids) => {
      const rows = await services.stock.levelsByLocation(em, ids);
      return ids.map((id) => rows.filter((r) => r.productId === id));
    }),
    lotsByProduct: paged(em, productLots),
    approvedHubIdsOf: approvalIds(em, 'producer'),
    approvingProducerIdsOf: approvalIds(em, 'hub'),
    ledgerByProduct: paged(em, productLedgers),
    deliveriesByWebhook: paged(em, webhookDeliveries),
    productsByProducer: paged(em, producerProducts),
    offersBySession: new DataLoader<string, OfferRecord[]>(async (sessionIds) => {
      // One statement for the whole page. The offers carry their products, producers and
      // stock; the figures also answer Product.stock for a producer reading the page.
      const offers = await readSessionCatalogues(em, sessionIds, readAt());
      const bySession = new Map<string, OfferRecord[]>(sessionIds.map((id) => [id, []]));
      for (const offer of offers) {
        loaders.stock.prime(offer.product.id, offer.read!.stock);
        bySession.get(offer.salesSession.id)!.push(offer);
      }
      return sessionIds.map((id) => bySession.get(id)!);
    }),
    hubSessions: paged(em, hubSessions),
    producerOrdersBySession: grouped(em, ProducerOrder, 'salesSession', { createdAt: 'asc', id: 'asc' }),
    // In the order the session lists its offers, as the storefront showed them: a basket's lines
    // share their instant, and their ids are random.
    linesByCustomerOrder: grouped(em, CustomerOrderLine, 'customerOrder', { offer: { position: 'asc' }, id: 'asc' }),
    stock: new DataLoader<string, StockFigures | undefined>(async (ids) => {
      const figures = await services.stock.figures(em, ids);
      return ids.map((id) => figures.get(id));
    }),
    webhookAttempts: new DataLoader<string, AttemptRow[]>(async (deliveryIds) => {
      const rows = await services.webhooks.attempts(em, deliveryIds);
      return deliveryIds.map((id) => rows.filter((r) => r.deliveryId === id));
    }),
    pickLines: new DataLoader<string, PlannedLine[]>(async (ids) => {
      const lines = await services.picking.linesOf(em, ids);
      return ids.map((id) => lines.filter((l) => l.producerOrderId === id));
    }),
    producerOrderLines: new DataLoader<string, ProducerOrderLineRow[]>(async (ids) => {
      const rows = await services.producerOrders.lines(em, ids);
      return ids.map((id) => rows.filter((r) => r.producerOrderId === id));
    }),
  };
  return loaders;
}

export type Loaders = ReturnType<typeof createLoaders>;

/**
 * Pages of lists that belong to parent rows (keysetPages()), keyed by parent and page: the parents
 * a response reaches with the same page arguments (most often all of them) are read in one
 * statement. Parents may differ in more than the cursor (a caller's own products are read whole,
 * another producer's only on sale), so one cursor may reach several groups: where one group held
 * its parent, the others have nothing after it (keysetPages() across groups), not an error.
 */
function paged<P extends object, T>(
  em: EntityManager,
  read: (em: EntityManager, parentIds: readonly string[], page: P) => Promise<Map<string, T[] | Error>>,
): DataLoader<{ parentId: string; page: P }, T[], string> {
  const cursorOf = (page: P) => {
    const { after, before } = page as { after?: string | null; before?: string | null };
    return after ?? before ?? null;
  };
  return new DataLoader(async (keys) => {
    const parentsByPage = new Map<string, { page: P; parentIds: string[] }>();
    for (const { parentId, page } of keys) {
      const pageKey = JSON.stringify(page);
      const group = parentsByPage.get(pageKey) ?? parentsByPage.set(pageKey, { page, parentIds: [] }).get(pageKey)!;
      group.parentIds.push(parentId);
    }
    const groups: { page: P; pages: Map<string, T[] | Error> }[] = [];
    for (const { page, parentIds } of parentsByPage.values()) groups.push({ page, pages: await read(em, parentIds, page) });
    // The cursors a group placed among its parents' items (a group that did not answers errors only).
    const placed = new Set(groups.filter((g) => [...g.pages.values()].some((items) => !(items instanceof Error))).map((g) => cursorOf(g.page)));
    const pages = new Map<string, T[] | Error>();
    for (const group of groups) {
      const placedElsewhere = cursorOf(group.page) !== null && placed.has(cursorOf(group.page));
      for (const [parentId, items] of group.pages) pages.set(JSON.stringify([parentId, group.page]), items instanceof Error && placedElsewhere ? [] : items);
    }
    return keys.map(({ parentId, page }) => pages.get(JSON.stringify([parentId, page]))!);
  }, { cacheKeyFn: ({ parentId, page }) => JSON.stringify([parentId, page]) });
}

function byId<T extends { id: string }>(em: EntityManager, entity: EntityName<T>): DataLoader<string, T | null> {
  return new DataLoader(async (ids) => {
    const found = await em.find(entity, { id: { $in: [...ids] } } as never);
    const byKey = new Map(found.map((e) => [e.id, e]));
    return ids.map((id) => byKey.get(id) ?? null);
  });
}

function grouped<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  parent: keyof T & string,
  orderBy: Record<string, 'asc' | 'desc' | Record<string, 'asc' | 'desc'>>,
): DataLoader<string, T[]> {
  return new DataLoader(async (parentIds) => {
    const found = await em.find(entity, { [parent]: { $in: [...parentIds] } } as never, { orderBy } as never);
    const groups = new Map<string, T[]>(parentIds.map((id) => [id, []]));
    for (const item of found) {
      // A relation (an entity reference) or a plain id column.
      const ref = item[parent] as unknown as { id: string } | string;
      groups.get(typeof ref === 'string' ? ref : ref.id)?.push(item);
    }
    return parentIds.map((id) => groups.get(id)!);
  });
}

/** One side of the hub approvals for each id of the other (hub-approvals.ts), first approved first. */
function approvalIds(em: EntityManager, side: 'producer' | 'hub'): DataLoader<string, string[]> {
  return new DataLoader(async (ids) => {
    const others = await approvalsOf(em, side, ids);
    return ids.map((id) => others.get(id)!);
  });
}
