import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { pageByCreation } from '../../shared/creation-pages.js';
import { isUuid } from '../../shared/ids.js';
import type { RequestContext } from '../../shared/request-context.js';
import { sql, uuidArray } from '../../shared/sql.js';
import { type FulfilmentState, LIVE_CUSTOMER_ORDER_STATUSES, type OrderState } from './order-states.js';
import { ProducerOrder } from './producer-order.entity.js';

export interface ProducerOrderFilter {
  producerId?: string | null;
  salesSessionId?: string | null;
  orderState?: OrderState | null;
  fulfilmentState?: FulfilmentState | null;
  limit: number;
  /** Only the orders after this one, oldest first: the next page after the last one seen. */
  after?: string | null;
}

export interface ProducerOrderLineRow {
  producerOrderId: string;
  productId: string;
  quantity: string;
  /** The quantity by the wholesale price its customer lines kept from checkout (amount null: none). */
  byWholesalePrice: WholesalePriceShare[];
}

export interface WholesalePriceShare {
  quantity: string;
  amount: number | null;
  currency: string | null;
}

export class ProducerOrderService {
  /**
   * Producer orders matching `filter`, within what the caller may see: a producer its own, a hub
   * its own; oldest first, a page at a time (`after`: one of those it may see, by creation and id).
   */
  async list(ctx: RequestContext, filter: ProducerOrderFilter): Promise<ProducerOrder[]> {
    // Who and what is listed; then the states asked for, which an order may leave between pages.
    const listed: FilterQuery<ProducerOrder> = {};
    // An empty id names nothing, as a malformed one does: it is not one left out.
    for (const id of [filter.producerId, filter.salesSessionId]) if (id != null && !isUuid(id)) return [];
    if (filter.producerId != null) listed.producer = filter.producerId;
    if (filter.salesSessionId != null) listed.salesSession = filter.salesSessionId;
    const { actor } = ctx;
    if (actor.kind === 'producer') {
      if (filter.producerId != null && filter.producerId !== actor.producerId) return [];
      listed.producer = actor.producerId;
    } else if (actor.kind === 'hub') {
      listed.hub = actor.hubId;
    } else if (actor.kind !== 'admin' && actor.kind !== 'system') {
      return [];
    }
    const where: FilterQuery<ProducerOrder> = {
      ...listed,
      ...(filter.orderState ? { orderState: filter.orderState } : {}),
      ...(filter.fulfilmentState ? { fulfilmentState: filter.fulfilmentState } : {}),
    };
    return pageByCreation(ctx.em, ProducerOrder, {
      listed,
      where,
      limit: filter.limit,
      after: filter.after,
      notFound: 'producer order of this list',
    });
  }

  /**
   * The lines of producer orders: the sum, per product, of the live customer lines that hold or
   * commit its stock, with how much of it was checked out at each wholesale price. One query for
   * any number of orders.
   */
  async lines(em: EntityManager, producerOrderIds: readonly string[]): Promise<ProducerOrderLineRow[]> {
    const shares = await sql<{ producerOrderId: string; productId: string; quantity: string; amount: number | null; currency: string | null }>(
      em,
      `SELECT l.producer_order_id AS "producerOrderId", l.product_id AS "productId", sum(l.quantity) AS quantity,
              l.wholesale_price_amount AS amount, l.wholesale_currency AS currency
         FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
        WHERE l.producer_order_id = ANY(?::uuid[]) AND o.status IN (${LIVE_CUSTOMER_ORDER_STATUSES.map(() => '?').join(', ')})
        GROUP BY l.producer_order_id, l.product_id, l.wholesale_price_amount, l.wholesale_currency
        ORDER BY l.producer_order_id, l.product_id, l.wholesale_price_amount, l.wholesale_currency`,
      [uuidArray(producerOrderIds), ...LIVE_CUSTOMER_ORDER_STATUSES],
    );
    const lines: ProducerOrderLineRow[] = [];
    for (const { producerOrderId, productId, quantity, amount, currency } of shares) {
      let line = lines.at(-1);
      if (line?.producerOrderId !== producerOrderId || line.productId !== productId) {
        line = { producerOrderId, productId, quantity: '0', byWholesalePrice: [] };
        lines.push(line);
      }
      line.quantity = new Decimal(line.quantity).plus(quantity).toFixed();
      line.byWholesalePrice.push({ quantity, amount, currency });
    }
    return lines;
  }
}
