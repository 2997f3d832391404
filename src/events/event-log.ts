import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from '../shared/sql.js';

/** Channels of PostgreSQL NOTIFY: "an event committed" and "events got positions up to N". */
export const PENDING_CHANNEL = 'foodhub_events_pending';
export const POSITIONED_CHANNEL = 'foodhub_events';

export enum EventKind {
  HELD = 'HELD',
  RELEASED = 'RELEASED',
  COMPLETED = 'COMPLETED',
  ADJUSTED = 'ADJUSTED',
}

/** Kinds that change a producer's reservations (the rest only change availability). */
export const RESERVATION_KINDS = [EventKind.HELD, EventKind.RELEASED, EventKind.COMPLETED];

/**
 * Appends events inside the caller's transaction and asks, with a NOTIFY that PostgreSQL sends only
 * if the transaction commits, for them to be positioned and delivered. Events of a rolled-back
 * transaction therefore never exist, and no subscriber can see them.
 *
 * `recordset` is a `jsonb_to_recordset(...) AS m(...)` source with product_id, producer_order_id,
 * customer_order_id columns, and `quantity` the SQL expression of each row's change.
 */
export async function recordStockEvents(
  em: EntityManager,
  kind: EventKind,
  at: Date,
  recordset: string,
  quantity: string,
  params: unknown[],
): Promise<void> {
  await sql(
    em,
    `INSERT INTO domain_event (kind, producer_id, product_id, producer_order_id, hub_id, customer_order_id, quantity, available, created_at)
     SELECT ?, p.producer_id, m.product_id, m.producer_order_id, po.hub_id, m.customer_order_id, ${quantity},
            s.on_hand - s.held - s.committed, ?
       FROM ${recordset}
       JOIN product p ON p.id = m.product_id
       JOIN stock_level s ON s.product_id = m.product_id
       LEFT JOIN producer_order po ON po.id = m.producer_order_id`,
    [kind, at, ...params],
  );
  await sql(em, "SELECT pg_notify(?, '')", [PENDING_CHANNEL]);
}
