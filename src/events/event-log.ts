import type { EntityManager } from '@mikro-orm/postgresql';
import { lockLevels } from '../modules/stock/level-locks.js';
import { sql, uuidArray } from '../shared/sql.js';

/** PostgreSQL NOTIFY channel: "events got positions up to N", listened to by every replica. */
export const POSITIONED_CHANNEL = 'foodhub_events';

export enum EventKind {
  HELD = 'HELD',
  RELEASED = 'RELEASED',
  COMPLETED = 'COMPLETED',
  ADJUSTED = 'ADJUSTED',
  /** A lot passed its checks and joined the stock on hand. */
  LOT_RELEASED = 'LOT_RELEASED',
  /** Stock (or a whole lot) moved between two of a producer's locations. */
  TRANSFERRED = 'TRANSFERRED',
  /** A picker replaced a suggested lot with another that meets the same criteria. */
  LOT_SWAPPED = 'LOT_SWAPPED',
  /** A producer order left the door: the quantity is what really shipped of the product. */
  SHIPPED = 'SHIPPED',
  /** A customer order line gets less than it ordered: the quantity is what it lost. */
  SHORT_FILLED = 'SHORT_FILLED',
  /** A hub put a product on sale in a session after creating it (addOffers, restoreOffer). */
  OFFERED = 'OFFERED',
  /** A hub took an offer off sale (withdrawOffer). */
  WITHDRAWN = 'WITHDRAWN',
  /**
   * A session stopped selling (closeSalesSession, cancelSalesSession, or its `closesAt` passed): one
   * for each offer it had on sale, which its storefronts' stream delivers as 0, and then nothing
   * more of that offer.
   */
  SESSION_CLOSED = 'SESSION_CLOSED',
  /** A hub set, changed or lifted an offer's cap (updateOfferCap): what the offer can sell changed, not the stock. */
  CAP_CHANGED = 'CAP_CHANGED',
}

/** Kinds that change a producer's reservations (the rest only change availability). */
export const RESERVATION_KINDS = [EventKind.HELD, EventKind.RELEASED, EventKind.COMPLETED];

/** Kinds that tell producers and hubs how fulfilment is going, on the same stream as reservations. */
export const FULFILMENT_KINDS = [EventKind.LOT_RELEASED, EventKind.TRANSFERRED, EventKind.LOT_SWAPPED, EventKind.SHIPPED, EventKind.SHORT_FILLED];

/**
 * Kinds about one session's offers, naming the session: they reach that session's availability
 * stream (availabilityChanged) only, and no webhook.
 */
export const OFFER_KINDS: readonly string[] = [EventKind.OFFERED, EventKind.WITHDRAWN, EventKind.SESSION_CLOSED, EventKind.CAP_CHANGED];

/** Of those, the kinds that put an offer on sale or take it off (a cap change does neither). */
export const ON_SALE_KINDS: readonly string[] = [EventKind.OFFERED, EventKind.WITHDRAWN, EventKind.SESSION_CLOSED];

/** Kinds about a producer's stock alone: they name no producer order, so no hub ever gets one. */
export const STOCK_ONLY_KINDS: readonly string[] = [EventKind.ADJUSTED, EventKind.LOT_RELEASED, EventKind.TRANSFERRED];

/** Transactions that wrote events, so the hub can position them the moment they commit. */
const transactionsWithEvents = new WeakSet<object>();
/** Per ORM (its configuration, which every fork shares): what to call when events commit outside a transaction. */
const committedListeners = new WeakMap<object, () => void>();

/**
 * Notes that a statement run on `em` wrote events; call it after the statement. In a transaction,
 * they become visible only if it commits, and only then does the relay (woken after the commit,
 * see EventHub) give them positions: a rolled-back transaction leaves no event, and no subscriber
 * can see one. A statement outside a transaction has committed by the time it returns, so the
 * relay is woken at once.
 *
 * No NOTIFY is sent from the writing transaction itself: PostgreSQL serialises the commits of
 * notifying transactions, which would queue every checkout behind every other.
 */
export function markEventsWritten(em: EntityManager): void {
  const transaction = em.getTransactionContext();
  if (transaction) transactionsWithEvents.add(outermost(transaction));
  else committedListeners.get(em.config)?.();
}

/**
 * The transaction whose commit makes a savepoint's writes visible: knex links a nested
 * transaction (a savepoint) to the one it runs in. Marking the savepoint alone, the outer commit
 * would not wake the relay, and the events would wait for the next sweep.
 */
function outermost(transaction: object): object {
  let current = transaction as { parentTransaction?: object };
  while (current.parentTransaction) current = current.parentTransaction as { parentTransaction?: object };
  return current;
}

/** Calls `listener` whenever markEventsWritten() reports events committed outside a transaction. */
export function onEventsCommittedOutsideTransactions(orm: { config: object }, listener: () => void): void {
  committedListeners.set(orm.config, listener);
}

/** Whether a committed transaction (a knex transaction, which is a function object) wrote events. */
export function wroteEvents(transaction: unknown): boolean {
  return (typeof transaction === 'object' || typeof transaction === 'function') && transaction !== null && transactionsWithEvents.has(transaction);
}

/** An event that is not a stock move (a swap, a short fill, an offer change), appended with appendEvents(). */
export interface EventRecord {
  kind: EventKind;
  productId: string;
  quantity: string;
  producerOrderId?: string;
  customerOrderId?: string;
  locationId?: string;
  lotId?: string;
  /** The session of an offer event (OFFER_KINDS): its storefronts' stream (availabilityChanged) reads it. */
  salesSessionId?: string;
}

/**
 * Appends events inside the caller's transaction, each with its product's availability now; they
 * reach subscribers and webhooks only if that transaction commits. None moved the availability
 * (`available_changed` false): what these events say changed is not stock.
 *
 * The product's levels are locked first, as a hold's commit locks them to number its event: a
 * hold cannot then commit between this read and this transaction's commit with an event ordered
 * before this one, which would leave this one last with an availability already gone.
 */
export async function appendEvents(em: EntityManager, at: Date, events: EventRecord[]): Promise<void> {
  if (events.length === 0) return;
  await lockLevels(em, events.map((e) => e.productId));
  await em.execute(
    `INSERT INTO domain_event (kind, producer_id, product_id, producer_order_id, hub_id, customer_order_id, location_id, lot_id,
                               sales_session_id, quantity, available, available_changed, created_at)
     SELECT e.kind, p.producer_id, e.product_id, e.producer_order_id, po.hub_id, e.customer_order_id, e.location_id, e.lot_id,
            e.sales_session_id, e.quantity,
            (SELECT coalesce(sum(s.on_hand - s.held - s.committed), 0) FROM stock_level s WHERE s.product_id = e.product_id),
            false, ?
       FROM jsonb_to_recordset(?::jsonb) AS e(kind text, product_id uuid, producer_order_id uuid, customer_order_id uuid,
                                             location_id uuid, lot_id uuid, sales_session_id uuid, quantity numeric)
       JOIN product p ON p.id = e.product_id
       LEFT JOIN producer_order po ON po.id = e.producer_order_id`,
    [at, JSON.stringify(events.map((e) => ({
      kind: e.kind,
      product_id: e.productId,
      producer_order_id: e.producerOrderId ?? null,
      customer_order_id: e.customerOrderId ?? null,
      location_id: e.locationId ?? null,
      lot_id: e.lotId ?? null,
      sales_session_id: e.salesSessionId ?? null,
      quantity: e.quantity,
    })))] as never[],
  );
  markEventsWritten(em);
}

/** The id of the newest event positioned so far (0 before the first), as SQL. */
const NEWEST_POSITION = '(SELECT coalesce(max(position), 0) FROM domain_event)';

/**
 * The id of the newest event positioned so far ("0" before the first): a replay may start no
 * later, and a session keeps it to replay no earlier than its creation.
 */
export async function newestEventPosition(em: EntityManager): Promise<string> {
  const [row] = await sql<{ newest: string }>(em, `SELECT ${NEWEST_POSITION}::text AS newest`);
  return row!.newest;
}

/**
 * Which events a stream delivers, as far as a replay's check needs to know: the kinds it
 * delivers (all of them when absent), and whose: its producers' and hubs' (`owners`), or those
 * of every producer whose products a session offers (`offeredIn`, a storefront's stream).
 */
export type ReplayOwners = ({ owners: readonly string[] } | { offeredIn: string }) & { kinds?: readonly string[] };

/**
 * The events a stream may replay after: from the newest forgotten of its owners' events of the
 * kinds it delivers (PrunedEventMark; and anyone's forgotten before those marks were kept) to the
 * newest positioned.
 */
export async function replayableRange(em: EntityManager, stream: ReplayOwners): Promise<{ forgottenThrough: string; newest: string }> {
  const [whose, params] = 'owners' in stream
    ? ['m.owner_id = ANY(?::uuid[])', [uuidArray(stream.owners)]]
    : ['m.owner_id IN (SELECT p.producer_id FROM offer f JOIN product p ON p.id = f.product_id WHERE f.sales_session_id = ?)', [stream.offeredIn]];
  const kinds = stream.kinds ? { sql: 'AND m.kind = ANY(?::text[])', params: [`{${stream.kinds.join(',')}}`] } : { sql: '', params: [] };
  const [row] = await sql<{ forgottenThrough: string; newest: string }>(
    em,
    `SELECT greatest((SELECT unattributed_through FROM pruned_events),
                     (SELECT max(m.through_position) FROM pruned_event_mark m WHERE ${whose} ${kinds.sql}))::text AS "forgottenThrough",
            ${NEWEST_POSITION}::text AS newest`,
    [...params, ...kinds.params],
  );
  return { forgottenThrough: row!.forgottenThrough ?? '0', newest: row!.newest };
}
