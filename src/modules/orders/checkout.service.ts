import { createHash, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { requireHub } from '../../auth/policy.js';
import { DomainError, type FieldPath, InputErrors, UserErrorCode, userError } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { formatQuantity, parseQuantity } from '../../shared/quantity.js';
import type { Actor, RequestContext } from '../../shared/request-context.js';
import { sql, uuidArray } from '../../shared/sql.js';
import { requiredText } from '../../shared/text.js';
import { readSessionTimes, SalesSessionStatus, sessionStatus } from '../sessions/session-status.js';
import { candidatesOf, type HoldRequest, refusedAtCommit, type StockService } from '../stock/stock.service.js';
import type { Duration } from 'luxon';
import { CustomerOrder, type CustomerOrderRow as OrderRow } from './customer-order.entity.js';
import { CustomerOrderStatus } from './order-states.js';

export const MAX_BASKET_LINES = 200;

export interface CheckoutFields {
  salesSessionId: string;
  customerRef: string;
  idempotencyKey: string;
  lines: { offerId: string; quantity: string }[];
}

/** A basket line after validation; lines naming the same offer are merged into one. */
interface BasketLine {
  offerId: string;
  quantity: Decimal;
  /** Where the line first appears in the input, to name it in errors. */
  index: number;
}

interface SessionRow {
  id: string;
  hubId: string;
  opensAt: Date;
  closesAt: Date;
  closedAt: Date | null;
  completedAt: Date | null;
}

interface OfferRow {
  id: string;
  salesSessionId: string;
  productId: string;
  producerId: string;
  productName: string;
  unit: string;
  priceAmount: number;
  priceCurrency: string;
  /** This producer's order in the session, when an earlier checkout made it. */
  producerOrderId: string | null;
  /** The product's levels as read, without locks: hold() checks them again as it writes. */
  levels: { locationId: string; priority: number; available: string }[];
}

/**
 * Checkout: holds each producer's stock for a whole basket, or for none of it, in one short
 * transaction. Locks are always taken in the same order — the session (shared), the producer
 * orders by producer id, the new customer order, then the stock rows by product id — so
 * concurrent checkouts, releases and completions wait for each other but never deadlock.
 */
export class CheckoutService {
  constructor(
    private readonly stock: StockService,
    private readonly holdDuration: Duration,
  ) {}

  async checkout(ctx: RequestContext, input: CheckoutFields): Promise<CustomerOrder> {
    const basket = validate(input);
    const requestHash = hashRequest(input.salesSessionId, input.customerRef.trim(), basket);
    const attempt = (optimistic: boolean) =>
      ctx.em.transactional((em) => this.place(em, ctx.actor, ctx.clock.now(), input, basket, requestHash, optimistic))
        .catch((error: unknown) => {
          if (error instanceof Replay) return error.order;
          throw error;
        });
    // First from the levels as read, applied at COMMIT; if the commit finds them gone (another
    // checkout took the stock meanwhile), all of it again under lock, which gives the exact answer.
    const order = await attempt(true).catch((error: unknown) => {
      if (refusedAtCommit(error)) return attempt(false);
      throw error;
    });
    // The row came back from the transaction: no second round trip to read it again.
    return ctx.em.map(CustomerOrder, order);
  }

  /** Places the order, or finds the one this idempotency key placed; returns its row. */
  private async place(em: EntityManager, actor: Actor, now: Date, input: CheckoutFields, basket: BasketLine[], requestHash: string, optimistic: boolean): Promise<OrderRow> {
    // One round trip reads what the checkout needs: the session, an earlier order with this
    // idempotency key, and the offers. KEY SHARE lets checkouts run side by side while keeping the
    // session from being completed (completion takes FOR UPDATE) until they commit.
    const [row] = await sql<SessionRow & { existing: OrderRow | null; offers: OfferRow[] }>(
      em,
      `SELECT s.id, s.hub_id AS "hubId", s.opens_at AS "opensAt", s.closes_at AS "closesAt",
              s.closed_at AS "closedAt", s.completed_at AS "completedAt",
              (SELECT row_to_json(o) FROM customer_order o WHERE o.hub_id = s.hub_id AND o.idempotency_key = ?) AS existing,
              (SELECT coalesce(json_agg(json_build_object(
                        'id', f.id, 'salesSessionId', f.sales_session_id, 'productId', f.product_id,
                        'producerId', p.producer_id, 'productName', p.name, 'unit', p.unit,
                        'priceAmount', f.price_amount, 'priceCurrency', f.price_currency,
                        'producerOrderId', (SELECT po.id FROM producer_order po
                                             WHERE po.sales_session_id = f.sales_session_id AND po.producer_id = p.producer_id),
                        'levels', (SELECT coalesce(json_agg(json_build_object('locationId', s.location_id, 'priority', l.priority,
                                                   'available', (s.on_hand - s.held - s.committed)::text) ORDER BY s.location_id), '[]')
                                     FROM stock_level s JOIN location l ON l.id = s.location_id WHERE s.product_id = f.product_id))), '[]')
                 FROM offer f JOIN product p ON p.id = f.product_id WHERE f.id = ANY(?::uuid[])) AS offers
         FROM sales_session s WHERE s.id = ? FOR KEY SHARE OF s`,
      [input.idempotencyKey, uuidArray(basket.map((l) => l.offerId)), input.salesSessionId],
    );
    const session = row && readSessionTimes(row);
    if (!session) throw DomainError.of(UserErrorCode.NOT_FOUND, `no sales session with id "${input.salesSessionId}"`, ['salesSessionId']);
    requireHub(actor, session.hubId, 'salesSessionId');

    if (row.existing) return replayed(row.existing, requestHash);

    const status = sessionStatus(session, now);
    if (status !== SalesSessionStatus.OPEN) {
      const why = status === SalesSessionStatus.SCHEDULED ? `opens at ${session.opensAt.toISOString()}` : 'is closed';
      throw DomainError.of(UserErrorCode.SESSION_NOT_OPEN, `the sales session ${why}`, ['salesSessionId']);
    }
    const offers = checkOffers(session.id, basket, row.offers);
    const byOffer = new Map(offers.map((o) => [o.id, o]));
    const holdsFor = (producerOrderOf: (offerId: string) => string): HoldRequest[] =>
      basket.map((line) => ({
        productId: byOffer.get(line.offerId)!.productId,
        quantity: line.quantity,
        producerOrderId: producerOrderOf(line.offerId),
        field: ['lines', line.index, 'quantity'],
      }));

    // Producer orders are locked (created) before the customer order, and the stock last.
    const missing = new Set(offers.filter((o) => o.producerOrderId === null).map((o) => o.producerId));
    if (missing.size > 0) await this.ensureProducerOrders(em, now, session, [...missing]);

    // Usually every producer already has its order in this session, and the levels as read have
    // the stock: the hold is then worked out now and written with the order, in one statement.
    // It is applied to the levels at COMMIT, which refuses it if they changed meanwhile.
    const orderId = randomUUID();
    const seen = optimistic ? candidatesOf(offers.flatMap((o) => o.levels.map((level) => ({ productId: o.productId, ...level })))) : undefined;
    const planned = seen && missing.size === 0 ? this.stock.planHold(orderId, holdsFor((offerId) => byOffer.get(offerId)!.producerOrderId!), seen) : undefined;
    const hold = planned && this.stock.holdAtCommitSql(em, now, planned, 'EXISTS (SELECT 1 FROM placed)');

    // The order and its lines in one statement, each line joined to its producer's order (which
    // exists by now). A key taken meanwhile inserts neither, nor the hold.
    const [placed] = await sql<{ order: OrderRow | null; lines: { offerId: string; producerOrderId: string }[] }>(
      em,
      `WITH placed AS (
         INSERT INTO customer_order (id, created_at, updated_at, sales_session_id, hub_id, customer_ref, status,
                                     hold_expires_at, idempotency_key, request_hash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (hub_id, idempotency_key) DO NOTHING
         RETURNING *),
       lines AS (
         INSERT INTO customer_order_line (id, created_at, customer_order_id, offer_id, product_id, producer_order_id,
                                          quantity, unit_price_amount, currency)
         SELECT gen_random_uuid(), ?, placed.id, l.offer_id, l.product_id, po.id, l.quantity, l.price_amount, l.currency
           FROM placed
           CROSS JOIN jsonb_to_recordset(?::jsonb) AS l(offer_id uuid, product_id uuid, producer_id uuid,
                                                        quantity numeric, price_amount int, currency text)
           JOIN producer_order po ON po.sales_session_id = ? AND po.producer_id = l.producer_id
         RETURNING offer_id, producer_order_id)${hold ? `,
       ${hold.ctes}` : ''}
       SELECT (SELECT row_to_json(placed) FROM placed) AS "order",
              (SELECT coalesce(json_agg(json_build_object('offerId', offer_id, 'producerOrderId', producer_order_id)), '[]')
                 FROM lines) AS lines`,
      [orderId, now, now, session.id, session.hubId, input.customerRef.trim(), CustomerOrderStatus.PENDING_PAYMENT,
        new Date(now.getTime() + this.holdDuration.toMillis()), input.idempotencyKey, requestHash,
        now, JSON.stringify(basket.map((line) => {
          const offer = byOffer.get(line.offerId)!;
          return {
            offer_id: offer.id,
            product_id: offer.productId,
            producer_id: offer.producerId,
            quantity: line.quantity.toFixed(),
            price_amount: offer.priceAmount,
            currency: offer.priceCurrency,
          };
        })), session.id, ...(hold?.params ?? [])],
    );
    const inserted = placed?.order;
    if (!inserted) {
      // The same key was committed by a concurrent request while this one waited on it.
      const [raced] = await sql<OrderRow>(
        em,
        'SELECT * FROM customer_order WHERE hub_id = ? AND idempotency_key = ?',
        [session.hubId, input.idempotencyKey],
      );
      // Rolled back, so the producer orders made above for this basket are not left empty.
      if (raced) throw new Replay(replayed(raced, requestHash));
      throw new Error('idempotency key conflict without a committed order');
    }
    const lines = placed.lines;
    if (lines.length !== basket.length) throw new Error('a basket line found no producer order');
    if (planned) return inserted;

    // Otherwise the hold is its own statement: under lock when the levels as read seemed short.
    const producerOrderOf = new Map(lines.map((l) => [l.offerId, l.producerOrderId]));
    const shortages = await this.stock.hold(em, now, orderId, holdsFor((offerId) => producerOrderOf.get(offerId)!), seen);
    if (shortages.length > 0) {
      throw new DomainError(shortages.map(({ request, available }) => {
        const offer = offers.find((o) => o.productId === request.productId)!;
        return userError(
          UserErrorCode.INSUFFICIENT_STOCK,
          `only ${formatQuantity(available)} ${offer.unit} of "${offer.productName}" is available, ${formatQuantity(request.quantity)} was asked`,
          request.field,
        );
      }));
    }

    return inserted;
  }

  /** Creates the producer order of each producer for this session (HELD/HELD) where missing. */
  private async ensureProducerOrders(em: EntityManager, now: Date, session: SessionRow, producerIds: string[]): Promise<void> {
    await sql(
      em,
      `INSERT INTO producer_order (id, created_at, sales_session_id, producer_id, hub_id, order_state, fulfilment_state)
       SELECT gen_random_uuid(), ?, ?, producer_id, ?, 'HELD', 'HELD'
         FROM unnest(?::uuid[]) AS producer_id ORDER BY producer_id
       ON CONFLICT (sales_session_id, producer_id) DO NOTHING`,
      [now, session.id, session.hubId, uuidArray(producerIds)],
    );
  }
}

/** Ends a checkout's transaction without its writes, answering with the order its key already has. */
class Replay extends Error {
  constructor(readonly order: OrderRow) {
    super('replayed an earlier checkout');
  }
}

/** The first result for a repeated idempotency key, or a conflict when the request differs. */
function replayed(existing: OrderRow, requestHash: string): OrderRow {
  if (existing.request_hash !== requestHash) {
    throw DomainError.of(UserErrorCode.IDEMPOTENCY_CONFLICT, 'this idempotency key was already used for a different checkout', ['idempotencyKey']);
  }
  return existing;
}

/** The basket's offers, each of which must exist and belong to this session. */
function checkOffers(sessionId: string, basket: BasketLine[], offers: OfferRow[]): OfferRow[] {
  const byId = new Map(offers.map((o) => [o.id, o]));
  const errors = new InputErrors();
  for (const line of basket) {
    const offer = byId.get(line.offerId);
    const field: FieldPath = ['lines', line.index, 'offerId'];
    if (!offer) errors.add(UserErrorCode.NOT_FOUND, `no offer with id "${line.offerId}"`, field);
    else if (offer.salesSessionId !== sessionId) errors.invalid('the offer belongs to another sales session', field);
  }
  errors.throwIfAny();
  return offers;
}

/** Checks everything that can be checked without the database, reporting every problem at once. */
function validate(input: CheckoutFields): BasketLine[] {
  const errors = new InputErrors();
  requiredText(input.customerRef, ['customerRef'], 200, errors);
  requiredText(input.idempotencyKey, ['idempotencyKey'], 200, errors);
  if (!isUuid(input.salesSessionId)) {
    errors.add(UserErrorCode.NOT_FOUND, `no sales session with id "${input.salesSessionId}"`, ['salesSessionId']);
  }
  if (input.lines.length === 0) errors.invalid('the basket is empty', ['lines']);
  if (input.lines.length > MAX_BASKET_LINES) {
    // Not one error per line of a 10,000-line basket: the size alone is the answer.
    errors.invalid(`a basket can have at most ${MAX_BASKET_LINES} lines`, ['lines']);
    errors.throwIfAny();
  }

  const merged = new Map<string, BasketLine>();
  input.lines.forEach((line, index) => {
    const quantity = parseQuantity(line.quantity, ['lines', index, 'quantity'], errors);
    if (!isUuid(line.offerId)) {
      errors.add(UserErrorCode.NOT_FOUND, `no offer with id "${line.offerId}"`, ['lines', index, 'offerId']);
      return;
    }
    if (!quantity) return;
    const previous = merged.get(line.offerId);
    if (previous) previous.quantity = previous.quantity.plus(quantity);
    else merged.set(line.offerId, { offerId: line.offerId, quantity, index });
  });
  errors.throwIfAny();
  return [...merged.values()];
}

/** A digest of what the checkout asks for, independent of line order and number spelling. */
function hashRequest(salesSessionId: string, customerRef: string, basket: BasketLine[]): string {
  const lines = basket.map((l) => [l.offerId, l.quantity.toFixed()]).sort(([a], [b]) => (a! < b! ? -1 : 1));
  return createHash('sha256').update(JSON.stringify({ salesSessionId, customerRef, lines })).digest('hex');
}
