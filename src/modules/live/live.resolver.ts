import { GraphQLError } from 'graphql';
import { Arg, Ctx, FieldResolver, Resolver, Root, Subscription } from 'type-graphql';
import { IdScalar } from '../../graphql/scalars.js';
import { EventKind, FULFILMENT_KINDS, ON_SALE_KINDS, RESERVATION_KINDS, type ReplayOwners } from '../../events/event-log.js';
import type { SessionOffersFilter, StoredEvent } from '../../events/event-hub.js';
import { Allow, Public } from '../../auth/access.js';
import { actsForProducer } from '../../auth/policy.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { forbiddenRead } from '../../graphql/forbidden.js';
import { isUuid } from '../../shared/ids.js';
import { shortenQuoted } from '../../shared/errors.js';
import { Product } from '../catalogue/product.entity.js';
import { ProducerOrder } from '../orders/producer-order.entity.js';
import { Offer } from '../sessions/offer.entity.js';
import { AvailabilityEvent, FulfilmentEvent, ReservationEvent } from './live.types.js';
import { actsForHub } from '../../auth/policy.js';
import { Lot } from '../lots/lot.entity.js';
import { Location } from '../stock/location.entity.js';
import type { ProductRecord } from '../sessions/catalogue-read.js';
import { offerAvailable } from '../sessions/offer-caps.js';
import { sessionClosedSql } from '../sessions/session-status.js';
import { sql } from '../../shared/sql.js';

interface ReservationArgs {
  producerId: string;
  after?: string | null;
}

interface AvailabilityArgs {
  salesSessionId: string;
  after?: string | null;
}

/** An availability event on its way to one session's subscriber, with that session's offer. */
interface OfferEvent {
  event: StoredEvent;
  offerId: string;
}

/** What an availability event needs of its offer besides the stock: its cap, and whether its session sells. */
interface OfferSaleState {
  cap: string | null;
  taken: string;
  /** The product's: what is available is offered in whole steps of it. */
  sellableStep: string;
  /** The session had closed (or was cancelled) at the reader's instant: it sells nothing (Offer.available). */
  sessionClosed: boolean;
  /** The offer was off sale (withdrawOffer): it sells nothing either. */
  withdrawn: boolean;
}

/**
 * An offer's cap, what its orders hold, and whether its session has closed, read once per live
 * event however many of its session's storefronts are subscribed (they are handed the same event
 * object), as of when the first of them resolves it: after the event committed, so its own hold or
 * release is counted, and a cap set or lifted since the subscription began (updateOfferCap), a
 * withdrawal, or a close or cancel, is too. A storefront slower than the first may get the event
 * after such a change; a withdrawal, an early close and a cancel each send an event of their own
 * after it (WITHDRAWN, SESSION_CLOSED), which sets its figure right.
 */
const offerStateAfterEvent = new WeakMap<StoredEvent, Map<string, Promise<OfferSaleState | undefined>>>();

function offerStateAfter(ctx: GraphQLContext, event: StoredEvent, offerId: string): Promise<OfferSaleState | undefined> {
  let byOffer = offerStateAfterEvent.get(event);
  if (!byOffer) offerStateAfterEvent.set(event, (byOffer = new Map()));
  let read = byOffer.get(offerId);
  if (!read) {
    read = sql<OfferSaleState>(
      ctx.em,
      `SELECT f.cap::text AS cap, f.taken::text AS taken, f.withdrawn_at IS NOT NULL AS withdrawn, p.sellable_step::text AS "sellableStep",
              ${sessionClosedSql('s')} AS "sessionClosed"
         FROM offer f JOIN sales_session s ON s.id = f.sales_session_id JOIN product p ON p.id = f.product_id WHERE f.id = ?`,
      [ctx.clock.now(), offerId],
    ).then(([row]) => row);
    byOffer.set(offerId, read);
  }
  return read;
}

/**
 * Where a replay starts: after `after`, or after `floor` when that is later (a session's stream
 * replays nothing from before the session). `after` must be an event's id, and one that has been
 * (an id from another environment, or from before the database was restored, would otherwise
 * silence the subscription until the events caught up with it). And nothing after where the replay
 * starts may have been forgotten of the events the stream delivers, by owner and kind
 * (EVENT_RETENTION): that replay could have a hole it cannot show. A stream none of whose events
 * were forgotten (a producer quiet for longer than the retention) resumes. "0" asks for all there
 * is: what is kept.
 */
async function replayStart(ctx: GraphQLContext, after: string | null | undefined, owners: ReplayOwners, floor?: string | null): Promise<string | undefined> {
  if (after === null || after === undefined) return undefined;
  const { forgottenThrough, newest } = await ctx.events.replayableRange(owners);
  if (!/^\d{1,18}$/.test(after) || BigInt(after) > BigInt(newest)) {
    throw new GraphQLError('`after` must be the id of an earlier event', { extensions: { code: 'BAD_USER_INPUT' } });
  }
  const from = floor !== undefined && floor !== null && BigInt(after) < BigInt(floor) ? floor : after;
  // A retention pass running while the replay reads may still forget events it has not read yet:
  // those that aged past EVENT_RETENTION since the last pass, or whose webhook delivery ended
  // meanwhile. Only a resume from about as far back as retention reaches meets it (not fixed).
  if (BigInt(after) !== 0n && BigInt(from) < BigInt(forgottenThrough)) {
    throw new GraphQLError(
      `the events after ${after} are no longer all kept (EVENT_RETENTION), and some were this stream's: read again what you show, and subscribe without \`after\``,
      { extensions: { code: 'BAD_USER_INPUT' } },
    );
  }
  return from;
}

@Resolver(() => ReservationEvent)
export class ReservationEventResolver {
  @Allow('admin', 'producer')
  @Subscription(() => ReservationEvent, {
    description: "A producer's reservations as they happen, on every replica, only after commit.",
    subscribe: async ({ args, context }) => {
      const { producerId, after } = args as ReservationArgs;
      if (!isUuid(producerId)) throw new GraphQLError(shortenQuoted(`no producer with id "${producerId}"`), { extensions: { code: 'BAD_USER_INPUT' } });
      if (!actsForProducer((context as GraphQLContext).actor, producerId)) throw forbiddenRead("another producer's reservations");
      return (context as GraphQLContext).events.open({ filter: { kinds: RESERVATION_KINDS, producerId }, after: await replayStart(context as GraphQLContext, after, { owners: [producerId], kinds: RESERVATION_KINDS }) });
    },
  })
  reservationChanged(
    @Root() event: StoredEvent,
    @Ctx() ctx: GraphQLContext,
    @Arg('producerId', () => IdScalar) _producerId: string,
    @Arg('after', () => IdScalar, { nullable: true, description: 'Replay the events after this one first.' }) _after?: string,
  ): ReservationEvent {
    ctx.renew();
    return {
      id: event.position,
      kind: event.kind,
      quantity: event.quantity,
      at: event.createdAt,
      producerOrderId: event.producerOrderId!,
      productId: event.productId,
    };
  }

  @FieldResolver(() => ProducerOrder)
  async producerOrder(@Root() event: ReservationEvent, @Ctx() ctx: GraphQLContext): Promise<ProducerOrder> {
    return (await ctx.loaders.producerOrder.load(event.producerOrderId))!;
  }

  @FieldResolver(() => Product)
  async product(@Root() event: ReservationEvent, @Ctx() ctx: GraphQLContext): Promise<ProductRecord> {
    return (await ctx.loaders.product.load(event.productId))!;
  }
}

@Resolver(() => AvailabilityEvent)
export class AvailabilityEventResolver {
  @Public()
  @Subscription(() => AvailabilityEvent, {
    description: "A session's offers whose availability changed (a hold, release or stock change anywhere), and those its hub adds, withdraws, restores or caps.",
    subscribe: async ({ args, context }) => {
      const { salesSessionId, after } = args as AvailabilityArgs;
      const ctx = context as GraphQLContext;
      const session = await ctx.services.salesSessions.findSalesSession(ctx, salesSessionId);
      if (!session) throw new GraphQLError(shortenQuoted(`no sales session with id "${salesSessionId}"`), { extensions: { code: 'BAD_USER_INPUT' } });
      // A replay starts at the session's creation at the earliest: a product's changes before it
      // was offered here are its producer's business (Product.stock is theirs), not this public
      // stream's to replay.
      const from = await replayStart(ctx, after, { offeredIn: session.id }, session.firstEventPosition);
      // The stream starts (live: where this replica's events stand) before the offers are read,
      // so an offer changed too late for that read commits after the stream began, and is one of
      // its events (SessionOffersFilter).
      const filter: SessionOffersFilter = { salesSessionId: session.id, offered: new Set(), offeredRead: false, onSale: new Set() };
      const events = ctx.events.open({ filter: { sessionOffers: filter }, after: from });
      const offerOfProduct = new Map<string, string>();
      try {
        // Read once the stream takes events: an offer added before this read is in it, and one
        // added after is an event that reaches the stream, which adds its product (matches()).
        for (const offer of await offersAsOf(ctx, session.id, events.start)) {
          offerOfProduct.set(offer.productId, offer.id);
          filter.offered.add(offer.productId);
          if (offer.onSale) filter.onSale.add(offer.productId);
        }
        filter.offeredRead = true;
      } catch (error) {
        await events.return?.();
        throw error;
      }
      return withOffer(events, (productId) => offerOfProduct.get(productId) ?? offerAddedSince(ctx, session.id, productId, offerOfProduct));
    },
  })
  availabilityChanged(
    @Root() { event, offerId }: OfferEvent,
    @Ctx() ctx: GraphQLContext,
    @Arg('salesSessionId', () => IdScalar) _salesSessionId: string,
    @Arg('after', () => IdScalar, { nullable: true, description: 'Replay the events after this one first.' }) _after?: string,
  ): AvailabilityEvent | Promise<AvailabilityEvent> {
    ctx.renew();
    const answer = { id: event.position, available: event.available, at: event.createdAt, offerId };
    return offerStateAfter(ctx, event, offerId).then((offer) => {
      if (!offer) return answer;
      return { ...answer, available: offer.sessionClosed || offer.withdrawn ? '0' : offerAvailable(offer, event.available, offer.sellableStep) };
    });
  }

  @FieldResolver(() => Offer)
  async offer(@Root() event: AvailabilityEvent, @Ctx() ctx: GraphQLContext): Promise<Offer> {
    return (await ctx.loaders.offer.load(event.offerId))!;
  }
}

/**
 * The hub's events, each with its offer. A plain iterator rather than an async generator: a
 * generator's return() waits behind the next() parked for an event, and one not yet started
 * returns without running its `finally`, so a client leaving a quiet session (or leaving while the
 * offers were still being read) kept its subscription on the server until an event came, if ever.
 * Here return() ends the hub's subscription at once.
 */
function withOffer(events: AsyncIterableIterator<StoredEvent>, offerOf: (productId: string) => string | Promise<string>): AsyncIterableIterator<OfferEvent> {
  const iterator: AsyncIterableIterator<OfferEvent> = {
    next: async () => {
      const next = await events.next();
      if (next.done) return { done: true, value: undefined };
      // As in the hub's own stream: graphql-ws calls no return() after an error, so end it here.
      const offerId = await Promise.resolve(offerOf(next.value.productId)).catch(async (error: unknown) => {
        await events.return?.();
        throw error;
      });
      return { done: false, value: { event: next.value, offerId } };
    },
    return: async () => {
      await events.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

/**
 * The session's offers, each with whether it was on sale just after `start`, the position its
 * stream starts after: the events the stream then hands out are judged in order from there
 * (SessionOffersFilter). An offer's first change on or off sale after `start` (ON_SALE_KINDS:
 * positioned later, or not yet positioned) says what it was before: a withdrawal or the session's
 * close (SESSION_CLOSED), on sale; an addition or a restore, not.
 * Without one, it is as it is now: off sale if withdrawn, or if the session told it closed.
 */
async function offersAsOf(ctx: GraphQLContext, salesSessionId: string, start: string): Promise<{ id: string; productId: string; onSale: boolean }[]> {
  const offers = await sql<{ id: string; productId: string; offSale: boolean; firstChange: string | null }>(
    ctx.em,
    // Named: an operator (or a test) finds it in pg_stat_activity by its name. A session that has
    // told its storefronts it closed (SESSION_CLOSED: closeSalesSession, a cancel, or the scheduler
    // once closesAt passed) took its offers off sale; so did one closed early by a replica of the
    // version before, which did not record that it told them.
    `/* availabilityChanged: offers */ SELECT f.id, f.product_id AS "productId",
            f.withdrawn_at IS NOT NULL OR s.close_announced_at IS NOT NULL OR coalesce(s.closed_at < s.closes_at, false) AS "offSale",
            c.kind AS "firstChange"
       FROM offer f JOIN sales_session s ON s.id = f.sales_session_id
       LEFT JOIN (SELECT DISTINCT ON (e.product_id) e.product_id, e.kind FROM domain_event e
                   WHERE e.sales_session_id = ? AND e.kind = ANY(?::text[]) AND (e.position > ?::bigint OR e.position IS NULL)
                   ORDER BY e.product_id, e.position NULLS LAST, e.id) c ON c.product_id = f.product_id
      WHERE f.sales_session_id = ?`,
    [salesSessionId, `{${ON_SALE_KINDS.join(',')}}`, start, salesSessionId],
  );
  return offers.map(({ id, productId, offSale, firstChange }) => ({
    id,
    productId,
    onSale: firstChange === null ? !offSale : firstChange !== EventKind.OFFERED,
  }));
}

/** The offer a product got in the session after the subscription began (an OFFERED event), kept for its next events. */
async function offerAddedSince(ctx: GraphQLContext, salesSessionId: string, productId: string, offerOfProduct: Map<string, string>): Promise<string> {
  const [offer] = await sql<{ id: string }>(ctx.em, 'SELECT id FROM offer WHERE sales_session_id = ? AND product_id = ?', [salesSessionId, productId]);
  // Offers are never deleted, and an event names only a product offered in the session.
  offerOfProduct.set(productId, offer!.id);
  return offer!.id;
}

interface FulfilmentArgs {
  producerId?: string | null;
  hubId?: string | null;
  after?: string | null;
}

@Resolver(() => FulfilmentEvent)
export class FulfilmentEventResolver {
  @Allow('admin', 'producer', 'hub')
  @Subscription(() => FulfilmentEvent, {
    description: "A producer's fulfilment changes (producerId), or those of a hub's orders (hubId), after commit.",
    subscribe: async ({ args, context }) => {
      const { producerId, hubId, after } = args as FulfilmentArgs;
      const ctx = context as GraphQLContext;
      // An empty id is one given (and then refused as no id), not one left out.
      if ((producerId == null) === (hubId == null)) throw new GraphQLError('give exactly one of producerId and hubId', { extensions: { code: 'BAD_USER_INPUT' } });
      const id = (producerId ?? hubId)!;
      if (!isUuid(id)) throw new GraphQLError(shortenQuoted(`no such id "${id}"`), { extensions: { code: 'BAD_USER_INPUT' } });
      if (producerId && !actsForProducer(ctx.actor, producerId)) throw forbiddenRead("another producer's fulfilment");
      if (hubId && !actsForHub(ctx.actor, hubId)) throw forbiddenRead("another hub's fulfilment");
      const filter = producerId ? { kinds: FULFILMENT_KINDS, producerId } : { kinds: FULFILMENT_KINDS, hubId: hubId! };
      return ctx.events.open({ filter, after: await replayStart(ctx, after, { owners: [id], kinds: FULFILMENT_KINDS }) });
    },
  })
  fulfilmentChanged(
    @Root() event: StoredEvent,
    @Ctx() ctx: GraphQLContext,
    @Arg('producerId', () => IdScalar, { nullable: true }) _producerId?: string,
    @Arg('hubId', () => IdScalar, { nullable: true }) _hubId?: string,
    @Arg('after', () => IdScalar, { nullable: true, description: 'Replay the events after this one first.' }) _after?: string,
  ): FulfilmentEvent {
    ctx.renew();
    return {
      id: event.position,
      kind: event.kind,
      quantity: event.quantity,
      at: event.createdAt,
      customerOrderId: event.customerOrderId,
      productId: event.productId,
      producerOrderId: event.producerOrderId,
      locationId: event.locationId,
      lotId: event.lotId,
    };
  }

  @FieldResolver(() => Product)
  async product(@Root() event: FulfilmentEvent, @Ctx() ctx: GraphQLContext): Promise<ProductRecord> {
    return (await ctx.loaders.product.load(event.productId))!;
  }

  @FieldResolver(() => ProducerOrder, { nullable: true })
  async producerOrder(@Root() event: FulfilmentEvent, @Ctx() ctx: GraphQLContext): Promise<ProducerOrder | null> {
    return event.producerOrderId ? ctx.loaders.producerOrder.load(event.producerOrderId) : null;
  }

  @FieldResolver(() => Location, { nullable: true, description: "The producer's own: not for hubs." })
  async location(@Root() event: FulfilmentEvent, @Ctx() ctx: GraphQLContext): Promise<Location | null> {
    if (!event.locationId) return null;
    await requireOwnFulfilment(event, ctx);
    return ctx.loaders.location.load(event.locationId);
  }

  @FieldResolver(() => Lot, { nullable: true, description: "The producer's own: not for hubs." })
  async lot(@Root() event: FulfilmentEvent, @Ctx() ctx: GraphQLContext): Promise<Lot | null> {
    if (!event.lotId) return null;
    await requireOwnFulfilment(event, ctx);
    return ctx.loaders.lot.load(event.lotId);
  }
}

/** Where a producer keeps its stock and its lots are the producer's business, not its hubs'. */
async function requireOwnFulfilment(event: FulfilmentEvent, ctx: GraphQLContext): Promise<void> {
  const product = await ctx.loaders.product.load(event.productId);
  if (!product || !actsForProducer(ctx.actor, product.producer.id)) throw forbiddenRead("another producer's lots and locations");
}
