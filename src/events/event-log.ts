import type { EntityManager } from '@mikro-orm/postgresql';

/** PostgreSQL NOTIFY channel: "events got positions up to N", listened to by every replica. */
export const POSITIONED_CHANNEL = 'foodhub_events';

export enum EventKind {
  HELD = 'HELD',
  RELEASED = 'RELEASED',
  COMPLETED = 'COMPLETED',
  ADJUSTED = 'ADJUSTED',
}

/** Kinds that change a producer's reservations (the rest only change availability). */
export const RESERVATION_KINDS = [EventKind.HELD, EventKind.RELEASED, EventKind.COMPLETED];

/** Transactions that wrote events, so the hub can position them the moment they commit. */
const transactionsWithEvents = new WeakSet<object>();

/**
 * Notes that `em`'s transaction writes events. They become visible only if it commits, and only
 * then does the relay (woken after the commit, see EventHub) give them positions: a rolled-back
 * transaction leaves no event, and no subscriber can see one.
 *
 * No NOTIFY is sent from the writing transaction itself: PostgreSQL serialises the commits of
 * notifying transactions, which would queue every checkout behind every other.
 */
export function markEventsWritten(em: EntityManager): void {
  const transaction = em.getTransactionContext();
  if (transaction) transactionsWithEvents.add(transaction);
}

/** Whether a committed transaction (a knex transaction, which is a function object) wrote events. */
export function wroteEvents(transaction: unknown): boolean {
  return (typeof transaction === 'object' || typeof transaction === 'function') && transaction !== null && transactionsWithEvents.has(transaction);
}

/**
 * The SQL that appends one event per row of `moves` (a CTE of product_id, producer_order_id,
 * customer_order_id and the change), with the product's availability after the change.
 */
export function stockEventsInsert(moves: string, quantity: string): string {
  return `INSERT INTO domain_event (kind, producer_id, product_id, producer_order_id, hub_id, customer_order_id, quantity, available, created_at)
     SELECT m.event_kind, p.producer_id, m.product_id, m.producer_order_id, po.hub_id, m.customer_order_id, ${quantity},
            s.available, m.at
       FROM ${moves} m
       JOIN product p ON p.id = m.product_id
       JOIN updated s ON s.product_id = m.product_id
       LEFT JOIN producer_order po ON po.id = m.producer_order_id`;
}
