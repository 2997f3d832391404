import { Arg, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import { Allow } from '../../auth/access.js';
import { toPayload } from '../../graphql/user-error.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { Money } from '../../graphql/money.js';
import { DateTimeScalar, DecimalScalar } from '../../graphql/scalars.js';
import { Product } from '../catalogue/product.entity.js';
import { Offer } from './offer.entity.js';
import { SalesSession } from './sales-session.entity.js';
import type { OfferRecord, ProductRecord } from './catalogue-read.js';
import { offerAvailable } from './offer-caps.js';
import { isNotClosed, type SessionTimes, sessionStatus } from './session-status.js';
import { AddOffersInput, AddOffersPayload, OfferPayload, OfferRefInput, UpdateOfferCapInput, UpdateOfferPriceInput } from './sales-session.types.js';

@Resolver(() => Offer)
export class OfferResolver {
  @Allow('admin', 'hub')
  @Mutation(() => OfferPayload, { description: 'A new price for an offer of a session that has not closed; lines already checked out keep theirs.' })
  updateOfferPrice(@Arg('input', () => UpdateOfferPriceInput) input: UpdateOfferPriceInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.salesSessions.updateOfferPrice(ctx, input), (offer) => ({ offer }));
  }

  @Allow('admin', 'hub')
  @Mutation(() => OfferPayload, {
    description: "Caps an offer of a session that has not closed, changes its cap or lifts it (cap: null); never below what its orders already hold.",
  })
  updateOfferCap(@Arg('input', () => UpdateOfferCapInput) input: UpdateOfferCapInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.salesSessions.updateOfferCap(ctx, input), (offer) => ({ offer }));
  }

  @Allow('admin', 'hub')
  @Mutation(() => AddOffersPayload, {
    description: "Puts more products on sale in a session that has not closed, under createSalesSession's rules. A product already offered on the same terms answers with its offer (a retry adds nothing); on other terms, or withdrawn, it is refused.",
  })
  addOffers(@Arg('input', () => AddOffersInput) input: AddOffersInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.offerChanges.addOffers(ctx, input), (added) => added);
  }

  @Allow('admin', 'hub')
  @Mutation(() => OfferPayload, {
    description: 'Takes an offer of a session that has not closed off sale: no checkout takes it from now on (INSUFFICIENT_STOCK) and its availability reads 0. Orders already placed keep their lines. Withdrawing it again answers with it.',
  })
  withdrawOffer(@Arg('input', () => OfferRefInput) input: OfferRefInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.offerChanges.withdrawOffer(ctx, input), (offer) => ({ offer }));
  }

  @Allow('admin', 'hub')
  @Mutation(() => OfferPayload, { description: 'Puts a withdrawn offer back on sale, as it was, while its session has not closed. Restoring it again answers with it.' })
  restoreOffer(@Arg('input', () => OfferRefInput) input: OfferRefInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.offerChanges.restoreOffer(ctx, input), (offer) => ({ offer }));
  }

  @FieldResolver(() => SalesSession)
  async salesSession(@Root() offer: OfferRecord, @Ctx() ctx: GraphQLContext): Promise<SalesSession> {
    return (await ctx.loaders.salesSession.load(offer.salesSession.id))!;
  }

  @FieldResolver(() => Product)
  product(@Root() offer: OfferRecord, @Ctx() ctx: GraphQLContext): ProductRecord | Promise<ProductRecord> {
    return offer.read?.product ?? ctx.loaders.product.load(offer.product.id).then((product) => product!);
  }

  @FieldResolver(() => Money)
  price(@Root() offer: OfferRecord): Money {
    return { amount: offer.priceAmount, currency: offer.priceCurrency };
  }

  @FieldResolver(() => DecimalScalar, {
    description: "What a customer can check out: the product's available stock, shared by every hub, no more than the offer's cap leaves, in whole sellable steps; 0 once the session has closed, and while the offer is withdrawn. Before the session opens, what it would sell were it open (checkouts wait for opensAt).",
  })
  available(@Root() offer: OfferRecord, @Ctx() ctx: GraphQLContext): string | Promise<string> {
    if (offer.withdrawnAt) return '0';
    if (offer.read) return offer.read.sessionClosed ? '0' : offerAvailable(offer, offer.read.stock.available, offer.read.product.sellableStep);
    const now = ctx.readAt;
    return Promise.all([ctx.loaders.salesSession.load(offer.salesSession.id), ctx.loaders.stock.load(offer.product.id), ctx.loaders.product.load(offer.product.id)])
      .then(([session, figures, product]) =>
        !session || !product || hasClosed(session, now) ? '0' : offerAvailable(offer, figures?.available ?? '0', product.sellableStep));
  }

  @FieldResolver(() => DateTimeScalar, { nullable: true, description: 'When the hub took the offer off sale (withdrawOffer); null while it is on sale.' })
  withdrawnAt(@Root() offer: OfferRecord): Date | null {
    return offer.withdrawnAt ?? null;
  }
}

/** A closed or completed session sells nothing more, whatever stock its products have. */
function hasClosed(session: SessionTimes, now: Date): boolean {
  return !isNotClosed(sessionStatus(session, now));
}
