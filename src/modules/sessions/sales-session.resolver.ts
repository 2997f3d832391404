import { DateTime } from 'luxon';
import { Arg, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Allow, Public } from '../../auth/access.js';
import { actsForHub, seesProducerOrder } from '../../auth/policy.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { DateTimeScalar, IdScalar } from '../../graphql/scalars.js';
import { toPayload } from '../../graphql/user-error.js';
import type { Product } from '../catalogue/product.entity.js';
import { Hub } from '../enterprises/hub.entity.js';
import { ProducerOrder } from '../orders/producer-order.entity.js';
import { Offer } from './offer.entity.js';
import { SalesSession } from './sales-session.entity.js';
import {
  CancelSalesSessionInput,
  CloseSalesSessionInput,
  CreateSalesSessionInput,
  CreateSalesSessionPayload,
  SalesSessionPayload,
  UpdateSalesSessionInput,
} from './sales-session.types.js';
import { SalesSessionStatus, sessionStatus } from './session-status.js';
import type { OfferRecord } from './catalogue-read.js';

@Resolver(() => SalesSession)
export class SalesSessionResolver {
  @Public()
  @Query(() => SalesSession, { nullable: true })
  salesSession(@Arg('id', () => IdScalar) id: string, @Ctx() ctx: GraphQLContext): Promise<SalesSession | null> {
    return ctx.services.salesSessions.findSalesSession(ctx, id, ctx.readAt);
  }

  @Allow('admin', 'hub')
  @Mutation(() => CreateSalesSessionPayload)
  createSalesSession(@Arg('input', () => CreateSalesSessionInput) input: CreateSalesSessionInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.salesSessions.createSalesSession(ctx, input), (salesSession) => ({ salesSession }));
  }

  @Allow('admin', 'hub')
  @Mutation(() => SalesSessionPayload, {
    description: 'Closes the session now instead of at closesAt; completion then follows as for a scheduled close.',
  })
  closeSalesSession(@Arg('input', () => CloseSalesSessionInput) input: CloseSalesSessionInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.salesSessions.closeSalesSession(ctx, input), (salesSession) => ({ salesSession }));
  }

  @Allow('admin', 'hub')
  @Mutation(() => SalesSessionPayload, {
    description: 'Cancels a session that is not complete, with its orders: every pending or paid customer order becomes CANCELLED (EXPIRED if its hold had lapsed; refunds are the hub\'s) and its stock is back on sale at once, its producer orders become CANCELLED, and it sells nothing more. Cancelling it again answers with it; a COMPLETED session is INVALID_STATE.',
  })
  cancelSalesSession(@Arg('input', () => CancelSalesSessionInput) input: CancelSalesSessionInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.cancellation.cancelSalesSession(ctx, input), (salesSession) => ({ salesSession }));
  }

  @Allow('admin', 'hub')
  @Mutation(() => SalesSessionPayload, {
    description: "Moves the close (later, or earlier but still to come) and the delivery of a session that has not closed. Its opening does not move: a session that has not opened has no orders; cancel it and make another.",
  })
  updateSalesSession(@Arg('input', () => UpdateSalesSessionInput) input: UpdateSalesSessionInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.salesSessions.updateSalesSession(ctx, input), (salesSession) => ({ salesSession }));
  }

  @FieldResolver(() => Hub)
  async hub(@Root() session: SalesSession, @Ctx() ctx: GraphQLContext): Promise<Hub> {
    return (await ctx.loaders.hub.load(session.hub.id))!;
  }

  @FieldResolver(() => DateTimeScalar, { description: "In the session's time zone." })
  opensAt(@Root() session: SalesSession): DateTime {
    return DateTime.fromJSDate(session.opensAt, { zone: session.timeZone });
  }

  @FieldResolver(() => DateTimeScalar, { description: "In the session's time zone." })
  closesAt(@Root() session: SalesSession): DateTime {
    return DateTime.fromJSDate(session.closesAt, { zone: session.timeZone });
  }

  @FieldResolver(() => DateTimeScalar, { description: "When producers deliver to the hub, in the session's time zone: the day pick lists are made for." })
  deliversAt(@Root() session: SalesSession): DateTime {
    return DateTime.fromJSDate(session.deliversAt ?? session.closesAt, { zone: session.timeZone });
  }

  @FieldResolver(() => DateTimeScalar, { nullable: true, description: 'When the session was closed before closesAt, if it was: by closeSalesSession, or by cancelSalesSession (then it equals cancelledAt).' })
  closedEarlyAt(@Root() session: SalesSession): DateTime | null {
    if (!session.closedAt || session.closedAt >= session.closesAt) return null;
    return DateTime.fromJSDate(session.closedAt, { zone: session.timeZone });
  }

  @FieldResolver(() => DateTimeScalar, { nullable: true, description: "When its hub or the operator cancelled the session (cancelSalesSession), in its time zone." })
  cancelledAt(@Root() session: SalesSession): DateTime | null {
    return session.cancelledAt ? DateTime.fromJSDate(session.cancelledAt, { zone: session.timeZone }) : null;
  }

  @FieldResolver(() => String, { description: 'IANA, e.g. "Europe/Paris".' })
  timeZone(@Root() session: SalesSession): string {
    return session.timeZone;
  }

  @FieldResolver(() => SalesSessionStatus)
  status(@Root() session: SalesSession, @Ctx() ctx: GraphQLContext): SalesSessionStatus {
    return sessionStatus(session, ctx.readAt);
  }

  @FieldResolver(() => [Offer], { description: 'On sale, in the order the hub listed them; withdrawn ones too with includeWithdrawn.' })
  async offers(
    @Root() session: SalesSession,
    @Ctx() ctx: GraphQLContext,
    @Arg('includeWithdrawn', () => Boolean, { defaultValue: false, description: "Also the offers taken off sale (withdrawOffer), with their withdrawnAt: all of them for the session's hub and the operator, a producer's own for a producer. Not the catalogue's." }) includeWithdrawn: boolean,
  ): Promise<OfferRecord[]> {
    const offers = await ctx.loaders.offersBySession.load(session.id);
    const onSale = offers.filter((offer) => !offer.withdrawnAt);
    if (!includeWithdrawn || onSale.length === offers.length) return onSale;
    // Off sale, an offer's product is the catalogue's no more: the session's hub and the operator
    // read every withdrawn offer, a producer only its own (another's product may be on sale nowhere).
    if (actsForHub(ctx.actor, session.hub.id)) return offers;
    if (ctx.actor.kind !== 'producer') return onSale;
    const producerId = ctx.actor.producerId;
    const withdrawn = offers.filter((offer) => offer.withdrawnAt);
    const products = await ctx.loaders.product.loadMany(withdrawn.map((offer) => offer.product.id));
    const own = new Set(withdrawn.filter((_, i) => (products[i] as Product | null)?.producer.id === producerId).map((offer) => offer.id));
    return offers.filter((offer) => !offer.withdrawnAt || own.has(offer.id));
  }

  @Allow('admin', 'hub', 'producer')
  @FieldResolver(() => [ProducerOrder], { description: 'All of them for the hub; a producer sees its own.' })
  async producerOrders(@Root() session: SalesSession, @Ctx() ctx: GraphQLContext): Promise<ProducerOrder[]> {
    const orders = await ctx.loaders.producerOrdersBySession.load(session.id);
    return orders.filter((o) => seesProducerOrder(ctx.actor, { producerId: o.producer.id, hubId: o.hub.id }));
  }
}
