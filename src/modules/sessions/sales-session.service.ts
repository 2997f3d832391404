import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DateTime } from 'luxon';
import { requireHub, seesSessionWhole } from '../../auth/policy.js';
import { appendEvents, EventKind, newestEventPosition } from '../../events/event-log.js';
import { DomainError, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { claimIdempotencyKey, hashRequest, idempotencyScope, IdempotentMutation, optionalIdempotencyKey } from '../../shared/idempotency.js';
import { isUuid } from '../../shared/ids.js';
import { type KeysetList, keysetPages, type Page } from '../../shared/keyset-pages.js';
import { formatQuantity, parseQuantity } from '../../shared/quantity.js';
import type { RequestContext } from '../../shared/request-context.js';
import { sql } from '../../shared/sql.js';
import type { EnterpriseService } from '../enterprises/enterprise.service.js';
import { Offer } from './offer.entity.js';
import { checkOfferFields, findOfferedProducts, type OfferFields, persistOffer, requireApprovals, requireCapsInSteps, requireStillApproved, sameQuantity, canonicalOffers } from './offer-inputs.js';
import { capOffSteps, heldByLiveOrders } from './offer-caps.js';
import { SalesSession } from './sales-session.entity.js';
import { isNotClosed, SalesSessionStatus, sessionClosedSql, sessionStatus } from './session-status.js';
import { canonicalTimeZone } from './time-zones.js';
import { appendSessionClosedEvents } from './closing-events.js';
import { checkPrice } from '../../shared/money.js';

export const MAX_OFFERS_PER_SESSION = 5000;

export interface CreateSalesSessionFields {
  hubId: string;
  opensAt: Date;
  closesAt: Date;
  timeZone: string;
  deliversAt?: Date | null;
  offers: OfferFields[];
  idempotencyKey?: string | null;
}

export interface UpdateSalesSessionFields {
  salesSessionId: string;
  closesAt?: Date | null;
  /** null: deliveries are due at closesAt, as when none was given. */
  deliversAt?: Date | null;
}

/**
 * A session's times in order, each writable in its zone: shown there, an instant of 31 December
 * 9999 could fall in the year 10000, which ISO 8601 (and this API's DateTime) does not write as a
 * plain year.
 */
function checkTimes(times: { opensAt: Date; closesAt: Date; deliversAt?: Date | null }, timeZone: string, errors: InputErrors): void {
  for (const field of ['opensAt', 'closesAt', 'deliversAt'] as const) {
    const at = times[field];
    if (at && DateTime.fromJSDate(at, { zone: timeZone }).year > 9999) errors.invalid('must be before the year 10000 in the session\'s time zone', [field]);
  }
  if (times.closesAt <= times.opensAt) errors.invalid('must be after opensAt', ['closesAt']);
  if (times.deliversAt && times.deliversAt < times.closesAt) errors.invalid('must not be before closesAt', ['deliversAt']);
}

/** Something to tell when a session closes early, so completion need not wait for the next poll. */
export interface CloseListener {
  sessionClosed(): void;
}

/** What a cap change asks of the customer orders (CustomerOrderService). */
export interface LapsedHolds {
  /** The lapsed holds of these offers (in their session), expired at once rather than at the scheduler's next tick. */
  expireLapsedHoldsOn(ctx: RequestContext, offerIds: readonly string[]): Promise<void>;
}

export class SalesSessionService {
  constructor(
    private readonly enterprises: EnterpriseService,
    private readonly closeListener: CloseListener,
    private readonly lapsedHolds: LapsedHolds,
  ) {}

  /**
   * Opens a session with its offers. Trader platforms and hubs call this from systems that retry:
   * with an idempotency key, a retry of a request that committed (its answer lost to a timeout)
   * answers with the first session and creates no second one, which customers would also see.
   */
  async createSalesSession(ctx: RequestContext, input: CreateSalesSessionFields): Promise<SalesSession> {
    const errors = new InputErrors();
    // Stored, shown and hashed as PostgreSQL spells it: a retry spelt in another case is the same request.
    const canonical = await canonicalTimeZone(ctx.em, input.timeZone.trim());
    if (!canonical) errors.invalid(`"${input.timeZone}" is not an IANA time zone (e.g. "Europe/Paris")`, ['timeZone']);
    const timeZone = canonical ?? input.timeZone;
    // With no zone to read them in (reported above), the years are read in UTC.
    checkTimes(input, canonical ?? 'UTC', errors);
    if (input.offers.length > MAX_OFFERS_PER_SESSION) {
      errors.invalid(`a session can have at most ${MAX_OFFERS_PER_SESSION} offers`, ['offers']);
    }
    const caps = checkOfferFields(input.offers, errors);
    const idempotencyKey = optionalIdempotencyKey(input.idempotencyKey, errors);
    errors.throwIfAny();

    requireHub(ctx.actor, input.hubId, 'hubId');
    const hub = await this.enterprises.requireHub(ctx, input.hubId, 'hubId');
    const products = await findOfferedProducts(ctx.em, input.offers, errors);
    errors.throwIfAny();

    return ctx.em.transactional(async (em) => {
      // The id is made before the session, for the key to name; the session only once the key is
      // this request's, so a replay has nothing new in the entity manager to flush.
      const sessionId = randomUUID();
      if (idempotencyKey) {
        const claim = await claimIdempotencyKey(em, ctx.clock.now(), {
          scope: idempotencyScope.hub(hub.id),
          idempotencyKey,
          kind: IdempotentMutation.CREATE_SALES_SESSION,
          resultId: sessionId,
          requestHash: hashSessionRequest(input, timeZone),
        });
        if (!claim.first) return em.findOneOrFail(SalesSession, claim.resultId);
      }
      // After the key: a retry answers with its session even once that has closed.
      if (input.closesAt <= ctx.clock.now()) {
        throw DomainError.of(UserErrorCode.INVALID_INPUT, 'is already in the past', ['closesAt']);
      }
      await requireApprovals(em, ctx.actor, hub.id, [...input.offers.entries()], products);
      requireCapsInSteps([...input.offers.entries()], caps, products);
      const session = new SalesSession(hub, input.opensAt, input.closesAt, timeZone);
      session.id = sessionId;
      session.createdAt = ctx.clock.now();
      session.deliversAt = input.deliversAt ?? undefined;
      session.firstEventPosition = await newestEventPosition(em);
      em.persist(session);
      input.offers.forEach((fields, position) => persistOffer(em, session, fields, caps.get(position), position, session.createdAt));
      await em.flush();
      return session;
    });
  }

  /**
   * Moves the close of a session that has not closed (later, or earlier but still to come) and
   * its delivery. FOR UPDATE, as a close: checkouts in flight finish first, and those after it are
   * judged by the new times. Its opening does not move: a hub's sessions page in opening order, and
   * a session that has not opened has no orders, so a hub cancels it and makes another. A closed
   * session keeps its times, which its producer orders were completed by; asking again for the
   * times it has answers with it, as the first request did.
   */
  async updateSalesSession(ctx: RequestContext, input: UpdateSalesSessionFields): Promise<SalesSession> {
    await requireOwnSession(ctx, input.salesSessionId);
    return ctx.em.transactional(async (em) => {
      const session = await lockSession(em, input.salesSessionId);
      const times = {
        opensAt: session.opensAt,
        closesAt: input.closesAt ?? session.closesAt,
        deliversAt: input.deliversAt === undefined ? session.deliversAt : input.deliversAt,
      };
      const same = (a?: Date | null, b?: Date | null) => (a?.getTime() ?? null) === (b?.getTime() ?? null);
      // A retry of a move whose answer was lost: the session already has these times.
      if (same(times.closesAt, session.closesAt) && same(times.deliversAt, session.deliversAt)) return session;

      const now = ctx.clock.now();
      requireNotClosed(session, now, 'the session has closed: its times stay as its producer orders were completed by them', 'salesSessionId');
      const errors = new InputErrors();
      checkTimes(times, session.timeZone, errors);
      if (input.closesAt && input.closesAt <= now) errors.invalid('is already past: close the session now with closeSalesSession', ['closesAt']);
      errors.throwIfAny();
      // A later close sells the products on sale for longer: only while their producers approve the hub.
      if (times.closesAt > session.closesAt) {
        const onSale = await sql<{ productId: string }>(em, 'SELECT product_id AS "productId" FROM offer WHERE sales_session_id = ? AND withdrawn_at IS NULL', [session.id]);
        await requireStillApproved(em, ctx.actor, session.hub.id, onSale.map((o) => o.productId), ['closesAt']);
      }
      Object.assign(session, times);
      await em.flush();
      return session;
    });
  }

  /**
   * A new price for an offer of a session that has not closed (a typo, a market that moved). Lines
   * already checked out keep the price they were checked out at (customer_order_line keeps it); a
   * checkout reading the offer as it changes is placed at either price, as the storefront showed it.
   */
  async updateOfferPrice(ctx: RequestContext, input: { offerId: string; price: { amount: number; currency: string } }): Promise<Offer> {
    const errors = new InputErrors();
    checkPrice(input.price, ['price'], errors);
    errors.throwIfAny();
    const found = await requireOwnOffer(ctx, input.offerId);
    return ctx.em.transactional(async (em) => {
      // KEY SHARE, as a checkout takes it: a close (FOR UPDATE) waits, so none commits in between.
      await sql(em, 'SELECT id FROM sales_session WHERE id = ? FOR KEY SHARE', [found.salesSession.id]);
      const offer = await em.findOneOrFail(Offer, found.id, { populate: ['salesSession'], refresh: true });
      // A retry of a change whose answer was lost: the offer already has this price.
      if (offer.priceAmount === input.price.amount && offer.priceCurrency === input.price.currency) return offer;
      requireNotClosed(offer.salesSession, ctx.clock.now(), 'the session has closed: its orders were placed at their prices', 'offerId');
      offer.priceAmount = input.price.amount;
      offer.priceCurrency = input.price.currency;
      return offer;
    });
  }

  /**
   * Caps an offer, changes its cap or lifts it (`cap` null), while its session has not closed.
   * The session is taken FOR UPDATE, as a close takes it: checkouts and releases in flight finish
   * first and the rest wait, so what live orders hold of the offer, counted here, is exact, and
   * the cap applies to every checkout after. A cap below what they hold is refused: orders are not
   * taken back. Asking again for the cap the offer has answers as the first request did.
   */
  async updateOfferCap(ctx: RequestContext, input: { offerId: string; cap?: string | null }): Promise<Offer> {
    const errors = new InputErrors();
    // Left out, it is refused rather than taken for null: a client that forgot the field must not
    // lift the hub's limit without a word.
    if (input.cap === undefined) errors.invalid('give the new cap, or null to lift it', ['cap']);
    const cap = input.cap === null || input.cap === undefined ? null : (parseQuantity(input.cap, ['cap'], errors) ?? null);
    errors.throwIfAny();
    const found = await requireOwnOffer(ctx, input.offerId);
    // A hold past its expiry has expired, whether or not the scheduler has marked it yet: a
    // checkout counts it free (it expires it first), and so does a cap, which must not be refused
    // for what a customer may buy at that moment.
    if (cap) await this.lapsedHolds.expireLapsedHoldsOn(ctx, [found.id]);
    return ctx.em.transactional(async (em) => {
      await lockSession(em, found.salesSession.id);
      const offer = await em.findOneOrFail(Offer, found.id, { populate: ['salesSession', 'product'], refresh: true });
      if (sameQuantity(offer.cap, cap)) return offer;
      requireNotClosed(offer.salesSession, ctx.clock.now(), 'the session has closed: it sells nothing more', 'offerId');
      const { product } = offer;
      const offSteps = cap && capOffSteps(cap, product);
      if (offSteps) throw DomainError.of(UserErrorCode.INVALID_INPUT, offSteps, ['cap']);
      // A cap raised or lifted sells more of the product: only while its producer approves the hub.
      const sellsMore = offer.cap !== null && offer.cap !== undefined && (cap === null || cap.greaterThan(offer.cap));
      if (sellsMore) await requireStillApproved(em, ctx.actor, offer.salesSession.hub.id, [product.id], ['cap']);
      const held = await heldByLiveOrders(em, offer.salesSession.id, offer.id);
      if (cap && cap.lessThan(held)) {
        throw DomainError.of(UserErrorCode.INVALID_INPUT, `${formatQuantity(held)} ${product.unit} is already checked out in this session: the cap cannot be lower`, ['cap']);
      }
      offer.cap = cap?.toFixed();
      // Counted only while capped (Offer.taken).
      offer.taken = cap ? held.toFixed() : '0';
      // Its storefronts are told what the offer sells now, read as the event reaches them. The offer
      // first, then the product's levels (the event locks them): the order every writer takes.
      await em.flush();
      await appendEvents(em, ctx.clock.now(), [{ kind: EventKind.CAP_CHANGED, productId: product.id, salesSessionId: offer.salesSession.id, quantity: '0' }]);
      return offer;
    });
  }

  /**
   * A session selling or still to come (the catalogue: anyone reads it), or one that ended, for
   * those who read it whole (readsSessionWhole()): a session closed by any means has closed_at
   * set, or its close announced. Selling `at` that instant: the request's (GraphQLContext.readAt).
   */
  async findSalesSession(ctx: RequestContext, id: string, at = ctx.clock.now()): Promise<SalesSession | null> {
    if (!isUuid(id)) return null;
    const session = await ctx.em.findOne(SalesSession, id);
    if (!session) return null;
    const selling = isNotClosed(sessionStatus(session, at));
    return selling || (await readsSessionWhole(ctx, { id: session.id, hubId: session.hub.id })) ? session : null;
  }

  /**
   * Closes a session now instead of at `closesAt`. Checkouts stop at once; the scheduler then
   * completes it exactly as after a scheduled close. Closing a closed session changes nothing.
   */
  async closeSalesSession(ctx: RequestContext, input: { salesSessionId: string }): Promise<SalesSession> {
    await requireOwnSession(ctx, input.salesSessionId);
    const closed = await ctx.em.transactional(async (em) => {
      const session = await lockSession(em, input.salesSessionId);
      const now = ctx.clock.now();
      if (isNotClosed(sessionStatus(session, now))) {
        session.closedAt = now;
        await em.flush();
        await appendSessionClosedEvents(em, now, session.id);
        return true;
      }
      return false;
    });
    if (closed) this.closeListener.sessionClosed();
    return ctx.em.findOneOrFail(SalesSession, input.salesSessionId, { refresh: true });
  }
}

export interface HubSessionsPage extends Page {
  /** Only sessions closing after this instant: `now` gives those open and those to come. */
  closesAfter?: Date | null;
  /**
   * For those who do not read every session of the hub whole: the catalogue at `sellingAt` (those
   * selling or to come, whose storefronts have not been told they closed), and, for a producer
   * (`suppliedBy`), the sessions that offered its products, as seesSessionWhole() reads them.
   */
  visibleTo?: { sellingAt: Date; suppliedBy: string | null };
}

const HUB_SESSIONS: KeysetList<SalesSession> = {
  entity: SalesSession,
  table: 'sales_session',
  parent: 'hub_id',
  key: (a) => `${a}.opens_at, ${a}.id`,
  notFound: 'sales session of this hub',
};

/** Hubs' sessions in opening order (then by id), a page of each, in one statement (keysetPages()). */
export function hubSessions(em: EntityManager, hubIds: readonly string[], { closesAfter, visibleTo, ...page }: HubSessionsPage): Promise<Map<string, SalesSession[] | DomainError>> {
  // Closing after it: by its schedule, unless the hub closed it early before then (least() skips
  // a null closed_at). Selling: not closed by any means (a close announced included, whatever this
  // replica's clock says).
  const selling = `NOT ${sessionClosedSql('t')}`;
  const conditions = [
    ...(closesAfter ? [{ sql: 'least(t.closes_at, t.closed_at) > ?', params: [closesAfter] }] : []),
    ...(visibleTo ? [visibleTo.suppliedBy
      ? {
        sql: `(${selling} OR EXISTS (
                 SELECT 1 FROM offer f JOIN product p ON p.id = f.product_id WHERE f.sales_session_id = t.id AND p.producer_id = ?))`,
        params: [visibleTo.sellingAt, visibleTo.suppliedBy],
      }
      : { sql: selling, params: [visibleTo.sellingAt] }] : []),
  ];
  const filter = conditions.length > 0 ? { sql: conditions.map((c) => `(${c.sql})`).join(' AND '), params: conditions.flatMap((c) => c.params) } : undefined;
  return keysetPages(em, HUB_SESSIONS, hubIds, page, filter);
}

/**
 * The request as a retry must repeat it: ids in lower case, the time zone trimmed, times as
 * instants (an offset spelt differently is the same time), offers by product.
 */
function hashSessionRequest(input: CreateSalesSessionFields, timeZone: string): string {
  return hashRequest(IdempotentMutation.CREATE_SALES_SESSION, {
    hubId: input.hubId,
    opensAt: input.opensAt.toISOString(),
    closesAt: input.closesAt.toISOString(),
    deliversAt: input.deliversAt?.toISOString() ?? null,
    timeZone,
    offers: canonicalOffers(input.offers),
  });
}

/**
 * Whose the session is, before any lock: another hub's attempt to change it must not hold up the
 * session's checkouts, even for a round trip. (A session never changes hub.)
 */
export async function requireOwnSession(ctx: RequestContext, sessionId: string): Promise<{ hubId: string }> {
  if (!isUuid(sessionId)) throw sessionNotFound(sessionId);
  const [owner] = await sql<{ hubId: string }>(ctx.em, 'SELECT hub_id AS "hubId" FROM sales_session WHERE id = ?', [sessionId]);
  if (!owner) throw sessionNotFound(sessionId);
  requireHub(ctx.actor, owner.hubId, 'salesSessionId');
  return owner;
}

/** The offer, with its session, when it is the caller's hub's: read before any lock, as requireOwnSession(). */
export async function requireOwnOffer(ctx: RequestContext, offerId: string): Promise<Offer> {
  const found = isUuid(offerId) ? await ctx.em.findOne(Offer, offerId, { populate: ['salesSession'] }) : null;
  if (!found) throw DomainError.of(UserErrorCode.NOT_FOUND, `no offer with id "${offerId}"`, ['offerId']);
  requireHub(ctx.actor, found.salesSession.hub.id, 'offerId');
  return found;
}

/** The session, read FOR UPDATE: that waits for checkouts in flight (they hold KEY SHARE), so none slips in after. */
export async function lockSession(em: EntityManager, sessionId: string): Promise<SalesSession> {
  const [row] = await sql<{ id: string }>(em, 'SELECT id FROM sales_session WHERE id = ? FOR UPDATE', [sessionId]);
  if (!row) throw sessionNotFound(sessionId);
  return em.findOneOrFail(SalesSession, row.id, { refresh: true });
}

/** Refuses a change to a session that no longer sells: INVALID_STATE, saying why (`closed`, or that it was cancelled). */
export function requireNotClosed(session: SalesSession, now: Date, closed: string, field: string): void {
  const status = sessionStatus(session, now);
  if (isNotClosed(status)) return;
  throw DomainError.of(UserErrorCode.INVALID_STATE, status === SalesSessionStatus.CANCELLED ? 'the session was cancelled' : closed, [field]);
}

function sessionNotFound(id: string): DomainError {
  return DomainError.of(UserErrorCode.NOT_FOUND, `no sales session with id "${id}"`, ['salesSessionId']);
}

/** seesSessionWhole() for a session, asking the database whether it offered a producer's products. */
export function readsSessionWhole(ctx: RequestContext, session: { id: string; hubId: string }): Promise<boolean> {
  return seesSessionWhole(ctx.actor, session.hubId, async (producerId) => {
    const [offered] = await sql(ctx.em, 'SELECT 1 FROM offer f JOIN product p ON p.id = f.product_id WHERE f.sales_session_id = ? AND p.producer_id = ? LIMIT 1', [
      session.id, producerId,
    ]);
    return offered !== undefined;
  });
}
