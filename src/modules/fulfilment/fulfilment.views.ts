import type { GraphQLContext } from '../../graphql/context.js';
import { formatQuantity } from '../../shared/quantity.js';
import type { Product } from '../catalogue/product.entity.js';
import type { Hub } from '../enterprises/hub.entity.js';
import type { Producer } from '../enterprises/producer.entity.js';
import type { Lot } from '../lots/lot.entity.js';
import type { CustomerOrder } from '../orders/customer-order.entity.js';
import type { ProducerOrder } from '../orders/producer-order.entity.js';
import type { Location } from '../stock/location.entity.js';
import type { LocationQuantity, LotPickView, PackListHub, PickItem as PickItemView, PickLine, PickList as PickListView } from './fulfilment.types.js';
import type { PackListHub as PackListRow } from './packing.service.js';
import type { PlannedLine, PlannedPick } from './pick-planner.js';
import type { PickItem, PickList } from './picking.service.js';

/**
 * Turns the fulfilment services' plain results (ids and decimals) into GraphQL objects, loading
 * the entities they name through the request's loaders, so a whole list costs one query per kind.
 */
export class FulfilmentViews {
  constructor(private readonly ctx: GraphQLContext) {}

  async pickList(list: PickList): Promise<PickListView> {
    const loaders = this.ctx.loaders;
    return {
      producer: (await loaders.producer.load(list.producerId)) as Producer,
      deliveryDay: list.deliveryDay,
      items: await this.items(list.items),
      zones: await Promise.all(list.zones.map(async (zone) => ({ location: await this.location(zone.locationId), items: await this.items(zone.items) }))),
      waves: await Promise.all(list.waves.map(async (wave) => ({
        deliversAt: wave.deliversAt,
        hub: (await loaders.hub.load(wave.hubId)) as Hub,
        producerOrders: (await loaders.producerOrder.loadMany(wave.producerOrderIds)) as ProducerOrder[],
        items: await this.items(wave.items),
      }))),
    };
  }

  pickLines(lines: PlannedLine[]): Promise<PickLine[]> {
    return Promise.all(lines.map(async (line) => ({
      product: await this.product(line.productId),
      quantity: formatQuantity(line.quantity),
      criteria: { minGrade: line.criteria.minGrade ?? null, minShelfLifeDays: line.criteria.minShelfLifeDays ?? null },
      deliveryDay: line.deliveryDay,
      lots: await this.picks(line.picks),
      untracked: await this.untracked(line.untracked),
      short: formatQuantity(line.short),
    })));
  }

  packList(hubs: PackListRow[]): Promise<PackListHub[]> {
    const loaders = this.ctx.loaders;
    return Promise.all(hubs.map(async (hub) => ({
      hub: (await loaders.hub.load(hub.hubId)) as Hub,
      producerOrder: (await loaders.producerOrder.load(hub.producerOrderId)) as ProducerOrder,
      deliversAt: hub.deliversAt,
      customers: await Promise.all(hub.customers.map(async (customer) => ({
        customerRef: customer.customerRef,
        customerOrder: (await loaders.customerOrder.load(customer.customerOrderId)) as CustomerOrder,
        priority: customer.priority,
        lines: await Promise.all(customer.lines.map(async (line) => ({
          product: await this.product(line.productId),
          quantity: formatQuantity(line.quantity),
          fulfilledQuantity: line.fulfilledQuantity === null ? null : formatQuantity(line.fulfilledQuantity),
        }))),
      }))),
    })));
  }

  private items(items: PickItem[]): Promise<PickItemView[]> {
    return Promise.all(items.map(async (item) => ({
      product: await this.product(item.productId),
      quantity: formatQuantity(item.quantity),
      lots: await this.picks(item.picks.map((p) => ({ ...p, replacedLotId: null }))),
      untracked: await this.untracked(item.untracked),
      short: formatQuantity(item.short),
    })));
  }

  private picks(picks: Omit<PlannedPick, 'whole'>[]): Promise<LotPickView[]> {
    return Promise.all(picks.map(async (pick) => ({
      lot: await this.lot(pick.lotId),
      location: await this.location(pick.locationId),
      quantity: formatQuantity(pick.quantity),
      pinned: pick.pinned,
      replacedLot: pick.replacedLotId ? await this.lot(pick.replacedLotId) : null,
    })));
  }

  private untracked(parts: PlannedLine['untracked']): Promise<LocationQuantity[]> {
    return Promise.all(parts.map(async (part) => ({ location: await this.location(part.locationId), quantity: formatQuantity(part.quantity) })));
  }

  private async product(id: string): Promise<Product> {
    return (await this.ctx.loaders.product.load(id)) as Product;
  }

  private async lot(id: string): Promise<Lot> {
    return (await this.ctx.loaders.lot.load(id)) as Lot;
  }

  private async location(id: string): Promise<Location> {
    return (await this.ctx.loaders.location.load(id)) as Location;
  }
}
