import { DateTime } from 'luxon';
import { actsForProducer, forbidden } from '../../auth/policy.js';
import { DomainError, UserErrorCode } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import type { RequestContext } from '../../shared/request-context.js';
import { instant, sql } from '../../shared/sql.js';
import { requireDeliveryDay } from '../lots/lot-criteria.js';
import { requireProducerExists } from './picking.service.js';

export interface PackListLine {
  productId: string;
  quantity: string;
  /** What the customer really gets; null until the order ships. */
  fulfilledQuantity: string | null;
}

export interface PackListCustomer {
  customerOrderId: string;
  customerRef: string;
  priority: boolean;
  lines: PackListLine[];
}

export interface PackListHub {
  hubId: string;
  producerOrderId: string;
  /** In the session's time zone. */
  deliversAt: DateTime;
  fulfilmentState: string;
  customers: PackListCustomer[];
}

interface Row {
  producerOrderId: string;
  hubId: string;
  fulfilmentState: string;
  deliversAt: string;
  timeZone: string;
  customerOrderId: string;
  customerRef: string;
  priority: boolean;
  productId: string;
  quantity: string;
  fulfilledQuantity: string | null;
}

/**
 * Pack lists: for one producer and delivery day, each hub's consignment split by customer, so the
 * hub can hand the orders out. A hub sees only its own consignments.
 */
export class PackingService {
  async packList(ctx: RequestContext, producerId: string, deliveryDay: string, hubId?: string | null): Promise<PackListHub[]> {
    requireDeliveryDay(deliveryDay);
    if (!isUuid(producerId)) throw DomainError.of(UserErrorCode.NOT_FOUND, `no producer with id "${producerId}"`, ['producerId']);
    if (hubId !== undefined && hubId !== null && !isUuid(hubId)) throw DomainError.of(UserErrorCode.NOT_FOUND, `no hub with id "${hubId}"`, ['hubId']);
    const { actor } = ctx;
    let hub = hubId ?? null;
    if (actor.kind === 'hub') {
      if (hub && hub !== actor.hubId) throw forbidden("another hub's pack list", 'hubId');
      hub = actor.hubId;
    } else if (!actsForProducer(actor, producerId)) {
      throw forbidden("another producer's pack list", 'producerId');
    }
    await requireProducerExists(ctx.em, producerId);
    if (hub !== null && !(await sql(ctx.em, 'SELECT 1 FROM hub WHERE id = ?', [hub])).length) {
      throw DomainError.of(UserErrorCode.NOT_FOUND, `no hub with id "${hub}"`, ['hubId']);
    }
    const rows = await sql<Row>(
      ctx.em,
      `SELECT po.id AS "producerOrderId", po.hub_id AS "hubId", po.fulfilment_state AS "fulfilmentState",
              coalesce(s.delivers_at, s.closes_at) AS "deliversAt", s.time_zone AS "timeZone", o.id AS "customerOrderId", o.customer_ref AS "customerRef",
              coalesce(c.priority, false) AS priority, l.product_id AS "productId", l.quantity, l.fulfilled_quantity AS "fulfilledQuantity"
         FROM producer_order po
         JOIN sales_session s ON s.id = po.sales_session_id
         JOIN customer_order_line l ON l.producer_order_id = po.id
         JOIN customer_order o ON o.id = l.customer_order_id AND o.status = 'CONFIRMED'
         JOIN product p ON p.id = l.product_id
         LEFT JOIN hub_customer c ON c.hub_id = o.hub_id AND c.customer_ref = o.customer_ref
        WHERE po.producer_id = ? AND po.fulfilment_state IN ('UNFULFILLED', 'FULFILLED')
          -- Every instant that is this day somewhere (UTC-12 to UTC+14), bounded in UTC whatever
          -- the connection's TimeZone: the day in each session's own zone is worked out below.
          AND coalesce(s.delivers_at, s.closes_at) >= (?::date - 1)::timestamp AT TIME ZONE 'UTC'
          AND coalesce(s.delivers_at, s.closes_at) < (?::date + 2)::timestamp AT TIME ZONE 'UTC'
          AND (?::uuid IS NULL OR po.hub_id = ?::uuid)
        ORDER BY coalesce(s.delivers_at, s.closes_at), po.hub_id, po.id, o.customer_ref, o.id, p.name, p.id`,
      [producerId, deliveryDay, deliveryDay, hub, hub],
    );
    const hubs: PackListHub[] = [];
    // The delivery day in the session's zone, read by luxon as the pick list and the session's own
    // times read it: PostgreSQL reads some names luxon accepts otherwise ("IST" is Israel to it,
    // India to luxon) or not at all, and a pack list must cover the same day as the pick list.
    for (const row of rows) {
      const deliversAt = DateTime.fromJSDate(instant(row.deliversAt), { zone: row.timeZone });
      if (deliversAt.toISODate() !== deliveryDay) continue;
      let consignment = hubs.at(-1);
      if (consignment?.producerOrderId !== row.producerOrderId) {
        consignment = { hubId: row.hubId, producerOrderId: row.producerOrderId, deliversAt, fulfilmentState: row.fulfilmentState, customers: [] };
        hubs.push(consignment);
      }
      let customer = consignment.customers.at(-1);
      if (customer?.customerOrderId !== row.customerOrderId) {
        customer = { customerOrderId: row.customerOrderId, customerRef: row.customerRef, priority: row.priority, lines: [] };
        consignment.customers.push(customer);
      }
      customer.lines.push({ productId: row.productId, quantity: row.quantity, fulfilledQuantity: row.fulfilledQuantity });
    }
    return hubs;
  }
}
