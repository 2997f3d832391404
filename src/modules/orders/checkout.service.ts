import { createHash, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { requireHub } from '../../auth/policy.js';
import { markEventsWritten } from '../../events/event-log.js';
import { DomainError, type FieldPath, InputErrors, UserErrorCode, type UserErrorDetail, userError } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import { formatQuantity, notWholeSteps, parseQuantity } from '../../shared/quantity.js';
import type { Clock } from '../../shared/clock.js';
import type { Actor, RequestContext } from '../../shared/request-context.js';
import { preparedSql, sql, uuidArray } from '../../shared/sql.js';
import { writeInstant } from '../../shared/instants.js';
import { MAX_CUSTOMER_REF, requiredText } from '../../shared/text.js';
import { readSessionTimes, SalesSessionStatus, sessionStatus } from '../sessions/session-status.js';
import { type CappedLine, capShortfallError, type CapShortfall, inWholeSteps, lockCappedOffers, seemsOverCap } from '../sessions/offer-caps.js';
import { candidatesOf, heldLedgerRows, type HoldRequest, type Move, type Shortage, type StockService } from '../stock/stock.service.js';
import type { Duration } from 'luxon';
import { type CustomerOrderRow as OrderRow, type CustomerOrderView, orderFromRow } from './customer-order.entity.js';
import type { Replacing, ReplacingBasket } from './customer-order.service.js';
import { type BasketRecord, type CheckoutBatcher, type Placement, placeCustomerOrder, refusedAsShort } from './checkout-batch.js';

export const MAX_BASKET_LINES = 200;

export interface CheckoutFields {
  salesSessionId: string;
  customerRef: string;
  idempotencyKey: string;
  lines: { offerId: string; quantity: string }[];
  /** A pending order of the same customer that this basket takes the place of (a changed basket). */
  replacesCustomerOrderId?: string | null;
}

/** What checkout asks of the customer orders (CustomerOrderService). */
export interface CheckoutOrders {
  /** The lapsed holds a short basket may have counted: expired at once. */
  expireLapsedHoldsOf(ctx: RequestContext, offerIds: readonly string[]): Promise<number>;
  readonly holdsExpired: number;
  /** Replacing a pending order with this basket, before the new order is written: the old one's caps let go. */
  beginReplacing(em: EntityManager, actor: Actor, now: Date, orderId: string, basket: ReplacingBasket): Promise<Replacing>;
  /** After it is written: the old one's stock let go, the old one cancelled, the new one's hold timed. */
  finishReplacing(em: EntityManager, now: Date, replacing: Replacing, replacementId: string): Promise<OrderRow>;
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
  timeZone: string;
  opensAt: Date;
  closesAt: Date;
  closedAt: Date | null;
  completedAt: Date | null;
  cancelledAt: Date | null;
  closeAnnouncedAt: Date | null;
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
  /** The producer's price to the hub (Product.wholesalePrice), which the line keeps; null when it has none. */
  wholesaleAmount: number | null;
  wholesaleCurrency: string | null;
  /** Lines must be whole multiples of it (Product.sellableStep). */
  sellableStep: string;
  /** At most this much is checked out in the session (Offer.cap); null when uncapped. */
  cap: string | null;
  /** What live orders held of it, as read without a lock (counted only when capped). */
  taken: string;
  /** Taken off sale by the hub (Offer.withdrawnAt): refused. */
  withdrawn: boolean;
  /** This producer's order in the session, when an earlier checkout made it. */
  producerOrderId: string | null;
  /** The product's levels as read, without locks: the trigger checks them again at COMMIT. */
  levels: { locationId: string; priority: number; available: string }[];
}

/** A checkout's request after validation, as every attempt at placing it uses it. */
interface CheckoutRequest {
  input: CheckoutFields;
  basket: BasketLine[];
  requestHash: string;
  actor: Actor;
  now: Date;
  /** Where `now` came from: a checkout that waits for a batch takes the instant again as it is sent. */
  clock: Clock;
}

/** What the read found: the order this key already placed, or what a new order needs. */
type ReadResult = { replayed: OrderRow } | SessionRead;

/** What a new order needs: its session, and its offers with their producers' orders and stock. */
interface SessionRead {
  session: SessionRow;
  offers: OfferRow[];
}

/**
 * Checkout: holds each producer's stock for a whole basket, or for none of it. Locks are always
 * taken in the same order — the session (shared), the producer orders, the new customer order,
 * then the stock rows by product and location — so concurrent checkouts, releases and
 * completions wait for each other but never deadlock.
 *
 * Nearly every checkout takes two round trips and no transaction (placeAtOnce()): the CPU each
 * round trip costs the server and PostgreSQL is what bounds checkout throughput. Whenever that way cannot give the
 * answer, the checkout runs again in one transaction (placeInTransaction()), in the end with the
 * stock read under lock, which always can.
 */
export class CheckoutService {
  constructor(
    private readonly stock: StockService,
    private readonly holdDuration: Duration,
    /** Places the checkouts of the same products that arrive together in one transaction. */
    readonly batcher: CheckoutBatcher,
    private readonly orders: CheckoutOrders,
  ) {}

  /**
   * A basket refused for want of stock that a lapsed hold may have counted (the scheduler expires
   * holds at its next tick, up to a second late) expires the lapsed holds of its products and
   * tries once more if any hold expired meanwhile, by it or by anyone (another checkout, the
   * scheduler): an expired hold's stock is for sale again at once, to the next customer who needs
   * it. Expiring them is a favour: if it fails, the refusal stands and the scheduler does it.
   */
  async checkout(ctx: RequestContext, fields: CheckoutFields): Promise<CustomerOrderView> {
    const expiredBefore = this.orders.holdsExpired;
    try {
      return await this.checkoutOnce(ctx, fields);
    } catch (error) {
      const short = error instanceof DomainError && error.userErrors.some((e) => e.code === UserErrorCode.INSUFFICIENT_STOCK);
      if (!short) throw error;
      const freed = await this.orders.expireLapsedHoldsOf(ctx, fields.lines.map((l) => l.offerId)).catch(() => 0);
      if (freed === 0 && this.orders.holdsExpired === expiredBefore) throw error;
      return this.checkoutOnce(ctx, fields);
    }
  }

  private async checkoutOnce(ctx: RequestContext, fields: CheckoutFields): Promise<CustomerOrderView> {
    const input = canonical(fields);
    const basket = validate(input);
    const requestHash = hashRequest(input, basket);
    // Each attempt takes the clock again: a retry is a new instant.
    const request = (): CheckoutRequest => ({ input, basket, requestHash, actor: ctx.actor, now: ctx.clock.now(), clock: ctx.clock });
    const inTransaction = (lockStock: boolean) =>
      ctx.em.transactional((em) => this.placeInTransaction(em, request(), lockStock)).catch((error: unknown) => {
        if (error instanceof Replay) return error.order;
        throw error;
      });
    // A changed basket is placed in the transaction that releases the one it replaces, under lock.
    const atOnce = input.replacesCustomerOrderId ? { lockStock: true } : await this.placeAtOnce(ctx.em, request());
    const order = 'placed' in atOnce
      ? atOnce.placed
      : await inTransaction(atOnce.lockStock).catch((error: unknown) => {
          // The levels as read no longer had the stock at COMMIT, or the offer's cap was reached
          // meanwhile: again, reading both under lock.
          if (refusedAsShort(error)) return inTransaction(true);
          throw error;
        });
    // The row came back from the write: no second round trip to read it again.
    return orderFromRow(order);
  }

  /**
   * One read, then the order, its lines and the hold written in one statement that commits on its
   * own, together with the other checkouts that arrive meanwhile (CheckoutBatcher), each in a
   * savepoint of its own. That statement checks again that the session is open, and locks it
   * (shared) until it commits, so the session cannot be closed or completed in between; the
   * trigger applies the hold to the levels before it commits, and refuses it (that basket alone)
   * if they no longer have the stock. What the read answers (a replayed key, a session not open,
   * an unknown offer) is final. Otherwise it says how to place the order in a transaction
   * instead: as read, for a producer without an order in this session yet (the first checkouts of
   * a flash sale: locking the stock then would queue them all); under lock, for a basket that
   * looks short, a key or a close that raced the read, or a hold refused for want of stock.
   */
  private async placeAtOnce(em: EntityManager, request: CheckoutRequest): Promise<{ placed: OrderRow } | { lockStock: boolean }> {
    const read = await this.read(em, request, false);
    if ('replayed' in read) return { placed: read.replayed };
    if (read.offers.some((o) => o.producerOrderId === null)) return { lockStock: false };

    const orderId = randomUUID();
    const byOffer = new Map(read.offers.map((o) => [o.id, o]));
    if (seemsOverCap(cappedLines(request.basket, byOffer))) return { lockStock: true };
    const planned = this.stock.planHold(orderId, holdRequests(request.basket, byOffer), levelsAsRead(read.offers));
    if (!planned) return { lockStock: true };
    const { order } = await this.batcher.place(em, this.basketRecord(request, orderId, read.session, byOffer, planned), () => this.instants(request.clock.now()));
    return order ? { placed: order } : { lockStock: true };
  }

  /**
   * The whole checkout in the caller's transaction: making the producer orders it needs, and
   * holding the stock either as read, applied at COMMIT (refusedAsShort() tells when that or a cap fails),
   * or, with `lockStock` or when the basket looks short, under lock, which gives the exact answer.
   */
  private async placeInTransaction(em: EntityManager, request: CheckoutRequest, lockStock: boolean): Promise<OrderRow> {
    const read = await this.read(em, request, true);
    if ('replayed' in read) return read.replayed;
    const { session, offers } = read;

    const missing = new Set(offers.filter((o) => o.producerOrderId === null).map((o) => o.producerId));
    if (missing.size > 0) await this.ensureProducerOrders(em, request.now, session, [...missing]);
    const replaced = request.input.replacesCustomerOrderId;
    const replacing = replaced ? await this.beginReplacing(em, request, read, replaced) : undefined;

    const orderId = randomUUID();
    const byOffer = new Map(offers.map((o) => [o.id, o]));
    const requests = holdRequests(request.basket, byOffer);
    const capped = cappedLines(request.basket, byOffer);
    const planned = lockStock || seemsOverCap(capped) ? undefined : this.stock.planHold(orderId, requests, levelsAsRead(offers));
    if (!planned) {
      // Under lock, the caps first: the order written next then cannot be refused by one.
      const overCaps = await lockCappedOffers(em, capped);
      if (overCaps.length > 0) {
        // A checkout of the same key that wrote these offers' lines locked them first, so it has
        // committed by now if at all: a retry answers with its order, not with a refusal.
        await this.replayIfPlaced(em, session, request);
        // A changed basket's stock as read leaves out what the old one holds: the cap answers alone.
        const shortOfStock = replacing ? [] : this.stock.shortagesAsRead(requests, levelsAsRead(offers));
        throw new DomainError(this.shortfalls(request.basket, requests, byOffer, overCaps, shortOfStock));
      }
    }
    const { order: written, lines } = await this.insertOrder(em, request, orderId, session, byOffer, planned);
    if (!written) {
      // The same key was committed by a concurrent request while this one waited on it.
      await this.replayIfPlaced(em, session, request);
      // Otherwise the statement found the session no longer open at this checkout's instant.
      throw DomainError.of(UserErrorCode.SESSION_NOT_OPEN, 'the sales session is closed', ['salesSessionId']);
    }
    const order = replacing ? await this.orders.finishReplacing(em, request.now, replacing, orderId) : written;
    if (planned) {
      // Written with the order, applied at COMMIT by the trigger, which writes the HELD events.
      markEventsWritten(em);
      return order;
    }

    // Under lock, for the producer orders the lines joined (some made above, in this transaction).
    const producerOrderOf = new Map(lines.map((l) => [l.offerId, l.producerOrderId]));
    const holds = requests.map((hold, i) => ({ ...hold, producerOrderId: producerOrderOf.get(request.basket[i]!.offerId)! }));
    const shortages = await this.stock.hold(em, request.now, orderId, holds);
    if (shortages.length > 0) {
      throw new DomainError(shortages.map((shortage) => stockShortfallError(offers.find((o) => o.productId === shortage.request.productId)!, shortage)));
    }
    // The old basket's stock was never on sale to anyone else: its release events say what the
    // products have once the new basket is held, not what they had in between.
    if (replacing) await this.stock.restateReleasedAvailability(em, replacing.orderId);
    return order;
  }

  /**
   * Begins replacing the order this basket takes the place of (CustomerOrderService
   * beginReplacing(): its capped offers and this basket's locked, its share of them given back);
   * its stock is let go once this basket's order is written (finishReplacing()), so that, as in
   * every checkout, the order's idempotency key is taken before any stock level. If this basket
   * cannot be placed, the transaction rolls back and that order stands as it was. A retry of this
   * change sent while the first was placing it waits for the replaced order, and answers with
   * the order the first placed rather than with the replaced order's new status.
   */
  private beginReplacing(em: EntityManager, request: CheckoutRequest, { session, offers }: SessionRead, replaced: string): Promise<Replacing> {
    const basket: ReplacingBasket = {
      salesSessionId: session.id,
      customerRef: request.input.customerRef,
      offerIds: offers.map((o) => o.id),
      productIds: offers.map((o) => o.productId),
    };
    return this.orders.beginReplacing(em, request.actor, request.now, replaced, basket).catch(async (error: unknown) => {
      if (error instanceof DomainError) await this.replayIfPlaced(em, session, request);
      throw error;
    });
  }

  /**
   * Ends the transaction with the order a concurrent checkout of the same key committed, if any
   * (rolled back, so the producer orders made for this basket are not left empty).
   */
  private async replayIfPlaced(em: EntityManager, session: SessionRow, request: CheckoutRequest): Promise<void> {
    const [raced] = await sql<OrderRow>(em, 'SELECT * FROM customer_order WHERE hub_id = ? AND idempotency_key = ?', [
      session.hubId,
      request.input.idempotencyKey,
    ]);
    if (raced) throw new Replay(replayed(raced, request.requestHash));
  }

  /**
   * A basket refused under lock by a cap: each line past its cap or short of stock (as read, the
   * stock: the caps' answer is final and nothing is held), with whichever leaves less.
   */
  private shortfalls(basket: BasketLine[], requests: HoldRequest[], byOffer: ReadonlyMap<string, OfferRow>, overCaps: CapShortfall[], shortOfStock: Shortage[]): UserErrorDetail[] {
    return basket.flatMap((line, i): UserErrorDetail[] => {
      const overCap = overCaps.find((c) => c.line.offerId === line.offerId);
      const stock = shortOfStock.find((s) => s.request === requests[i]);
      if (overCap && (!stock || overCap.left.lessThanOrEqualTo(stock.available))) return [capShortfallError(overCap)];
      return stock ? [stockShortfallError(byOffer.get(line.offerId)!, stock)] : [];
    });
  }

  /**
   * One round trip (two under `lock`) reads what the checkout needs: the session, an earlier order
   * with this idempotency key, and the offers with their producer's order in the session and their
   * stock levels. Under `lock`, KEY SHARE keeps the session from being closed or completed (both take
   * FOR UPDATE) until the transaction ends, while checkouts run side by side.
   */
  private async read(em: EntityManager, { input, basket, requestHash, actor, now }: CheckoutRequest, lock: boolean): Promise<ReadResult> {
    // The lock in a statement of its own, before the read: a statement that waited for it (an
    // offer's cap being changed holds the session FOR UPDATE) would read the offers as they were
    // before the change it waited for.
    if (lock) await sql(em, 'SELECT 1 FROM sales_session WHERE id = ? FOR KEY SHARE', [input.salesSessionId]);
    const [row] = await preparedSql<SessionRow & { existing: OrderRow | null; offers: OfferRow[] }>(
      em,
      `SELECT s.id, s.hub_id AS "hubId", s.time_zone AS "timeZone", s.opens_at AS "opensAt", s.closes_at AS "closesAt",
              s.closed_at AS "closedAt", s.completed_at AS "completedAt", s.cancelled_at AS "cancelledAt", s.close_announced_at AS "closeAnnouncedAt",
              (SELECT row_to_json(o) FROM customer_order o WHERE o.hub_id = s.hub_id AND o.idempotency_key = ?) AS existing,
              (SELECT coalesce(json_agg(json_build_object(
                        'id', f.id, 'salesSessionId', f.sales_session_id, 'productId', f.product_id,
                        'producerId', p.producer_id, 'productName', p.name, 'unit', p.unit, 'sellableStep', p.sellable_step::text,
                        'priceAmount', f.price_amount, 'priceCurrency', f.price_currency,
                        'wholesaleAmount', p.wholesale_price_amount, 'wholesaleCurrency', p.wholesale_price_currency,
                        'cap', f.cap::text, 'taken', f.taken::text, 'withdrawn', f.withdrawn_at IS NOT NULL,
                        'producerOrderId', (SELECT po.id FROM producer_order po
                                             WHERE po.sales_session_id = f.sales_session_id AND po.producer_id = p.producer_id),
                        'levels', (SELECT coalesce(json_agg(json_build_object('locationId', s.location_id, 'priority', l.priority,
                                                   'available', (s.on_hand - s.held - s.committed)::text) ORDER BY s.location_id), '[]')
                                     FROM stock_level s JOIN location l ON l.id = s.location_id WHERE s.product_id = f.product_id))), '[]')
                 FROM offer f JOIN product p ON p.id = f.product_id WHERE f.id = ANY(?::uuid[])) AS offers
         FROM sales_session s WHERE s.id = ?`,
      [input.idempotencyKey, uuidArray(basket.map((l) => l.offerId)), input.salesSessionId],
    );
    const session = row && readSessionTimes(row);
    if (!session) throw DomainError.of(UserErrorCode.NOT_FOUND, `no sales session with id "${input.salesSessionId}"`, ['salesSessionId']);
    requireHub(actor, session.hubId, 'salesSessionId');

    if (row.existing) return { replayed: replayed(row.existing, requestHash) };

    const status = sessionStatus(session, now);
    if (status !== SalesSessionStatus.OPEN) {
      const why = status === SalesSessionStatus.SCHEDULED ? `opens at ${writeInstant(session.opensAt, session.timeZone)}`
        : status === SalesSessionStatus.CANCELLED ? 'was cancelled' : 'is closed';
      throw DomainError.of(UserErrorCode.SESSION_NOT_OPEN, `the sales session ${why}`, ['salesSessionId']);
    }
    return { session, offers: checkOffers(session.id, basket, row.offers) };
  }

  /**
   * The order and its lines, each joined to its producer's order, and its planned hold if any, in
   * one statement (place_customer_order(), migrations 20261124200000 and 20261124220000). Nothing
   * is written unless the session is still open (checked and locked, shared, by the statement
   * itself) and the idempotency key still free. The shared lock keeps out closing, cancelling and
   * completion only because all three take the session FOR UPDATE first; a plain UPDATE of
   * closed_at would not wait for it. (The statement reads no cancelled_at: a cancel sets closed_at.)
   */
  private async insertOrder(em: EntityManager, request: CheckoutRequest, orderId: string, session: SessionRow,
    byOffer: ReadonlyMap<string, OfferRow>, hold: Move[] | undefined): Promise<Placement> {
    return placeCustomerOrder(em, this.basketRecord(request, orderId, session, byOffer, hold));
  }

  /** The order a checkout places, as place_customer_order() takes it, with the hold's moves when planned. */
  private basketRecord({ input, basket, requestHash, now }: CheckoutRequest, orderId: string, session: SessionRow,
    byOffer: ReadonlyMap<string, OfferRow>, hold?: Move[]): BasketRecord {
    return {
      id: orderId,
      salesSessionId: session.id,
      hubId: session.hubId,
      customerRef: input.customerRef,
      idempotencyKey: input.idempotencyKey,
      requestHash,
      ...this.instants(now),
      lines: basket.map((line) => {
        const offer = byOffer.get(line.offerId)!;
        return {
          offer_id: offer.id,
          product_id: offer.productId,
          producer_id: offer.producerId,
          quantity: line.quantity.toFixed(),
          price_amount: offer.priceAmount,
          currency: offer.priceCurrency,
          wholesale_amount: offer.wholesaleAmount,
          wholesale_currency: offer.wholesaleCurrency,
        };
      }),
      holds: hold && heldLedgerRows(hold),
    };
  }

  /** A basket's instant, at which the session must be open, and when its hold expires. */
  private instants(now: Date): Pick<BasketRecord, 'at' | 'holdExpiresAt'> {
    return { at: now.toISOString(), holdExpiresAt: new Date(now.getTime() + this.holdDuration.toMillis()).toISOString() };
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

/** The answer to a line its product's stock cannot meet. */
function stockShortfallError(offer: OfferRow, { request, available }: Shortage): UserErrorDetail {
  return userError(
    UserErrorCode.INSUFFICIENT_STOCK,
    `only ${formatQuantity(inWholeSteps(available, offer.sellableStep))} ${offer.unit} of "${offer.productName}" is available, ${formatQuantity(request.quantity)} was asked`,
    request.field,
  );
}

/** The offers' stock levels as the read found them, as the location strategy takes them. */
function levelsAsRead(offers: OfferRow[]) {
  return candidatesOf(offers.flatMap((o) => o.levels.map((level) => ({ productId: o.productId, ...level }))));
}

/** The basket's lines of capped offers, with their caps as read. */
function cappedLines(basket: BasketLine[], byOffer: ReadonlyMap<string, OfferRow>): CappedLine[] {
  return basket.flatMap((line) => {
    const offer = byOffer.get(line.offerId)!;
    if (offer.cap === null) return [];
    return [{
      offerId: offer.id,
      productName: offer.productName,
      unit: offer.unit,
      sellableStep: offer.sellableStep,
      quantity: line.quantity,
      cap: offer.cap,
      taken: offer.taken,
      field: ['lines', line.index, 'quantity'],
    }];
  });
}

/** A hold request per basket line, in the basket's order. */
function holdRequests(basket: BasketLine[], byOffer: ReadonlyMap<string, OfferRow>): HoldRequest[] {
  return basket.map((line) => {
    const offer = byOffer.get(line.offerId)!;
    return { productId: offer.productId, quantity: line.quantity, field: ['lines', line.index, 'quantity'] };
  });
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

/**
 * The basket's offers, each of which must exist, belong to this session and be on sale, and each
 * line a whole number of its product's sellable steps (lines of the same offer count together).
 */
function checkOffers(sessionId: string, basket: BasketLine[], offers: OfferRow[]): OfferRow[] {
  const byId = new Map(offers.map((o) => [o.id, o]));
  const errors = new InputErrors();
  for (const line of basket) {
    const offer = byId.get(line.offerId);
    const field: FieldPath = ['lines', line.index, 'offerId'];
    if (!offer) errors.add(UserErrorCode.NOT_FOUND, `no offer with id "${line.offerId}"`, field);
    else if (offer.salesSessionId !== sessionId) errors.invalid('the offer belongs to another sales session', field);
    // As a storefront reads it (Offer.available is 0): no stock for this line.
    else if (offer.withdrawn) errors.add(UserErrorCode.INSUFFICIENT_STOCK, `"${offer.productName}" was withdrawn from sale in this session`, ['lines', line.index, 'quantity']);
    else if (!line.quantity.mod(offer.sellableStep).isZero()) {
      errors.invalid(notWholeSteps(offer.productName, offer.sellableStep, offer.unit, line.quantity), ['lines', line.index, 'quantity']);
    }
  }
  errors.throwIfAny();
  return offers;
}

/**
 * The request as every step reads, compares and stores it: text trimmed, as it is kept (ids come
 * canonical from the API's ID scalar). A retry spelt differently is then the same request.
 */
function canonical(input: CheckoutFields): CheckoutFields {
  return { ...input, customerRef: input.customerRef.trim(), idempotencyKey: input.idempotencyKey.trim() };
}

/** Checks everything that can be checked without the database, reporting every problem at once. */
function validate(input: CheckoutFields): BasketLine[] {
  const errors = new InputErrors();
  requiredText(input.customerRef, ['customerRef'], MAX_CUSTOMER_REF, errors);
  requiredText(input.idempotencyKey, ['idempotencyKey'], 200, errors);
  if (!isUuid(input.salesSessionId)) {
    errors.add(UserErrorCode.NOT_FOUND, `no sales session with id "${input.salesSessionId}"`, ['salesSessionId']);
  }
  const replaced = input.replacesCustomerOrderId;
  if (replaced !== null && replaced !== undefined && !isUuid(replaced)) {
    errors.add(UserErrorCode.NOT_FOUND, `no customer order with id "${replaced}"`, ['replacesCustomerOrderId']);
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

/**
 * A digest of what the checkout asks for, independent of line order and number spelling. The
 * order it replaces only when there is one, so other checkouts hash as they always did.
 */
function hashRequest({ salesSessionId, customerRef, replacesCustomerOrderId }: CheckoutFields, basket: BasketLine[]): string {
  const lines = basket.map((l) => [l.offerId, l.quantity.toFixed()]).sort(([a], [b]) => (a! < b! ? -1 : 1));
  const replaces = replacesCustomerOrderId ? { replacesCustomerOrderId } : {};
  return createHash('sha256').update(JSON.stringify({ salesSessionId, customerRef, lines, ...replaces })).digest('hex');
}
