import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { GraphQLContext } from '../../graphql/context.js';
import { Money } from '../../graphql/money.js';
import { DecimalScalar } from '../../graphql/scalars.js';
import { Product } from '../catalogue/product.entity.js';
import { Offer } from './offer.entity.js';
import { SalesSession } from './sales-session.entity.js';

@Resolver(() => Offer)
export class OfferResolver {
  @FieldResolver(() => SalesSession)
  async salesSession(@Root() offer: Offer, @Ctx() ctx: GraphQLContext): Promise<SalesSession> {
    return (await ctx.loaders.salesSession.load(offer.salesSession.id))!;
  }

  @FieldResolver(() => Product)
  async product(@Root() offer: Offer, @Ctx() ctx: GraphQLContext): Promise<Product> {
    return (await ctx.loaders.product.load(offer.product.id))!;
  }

  @FieldResolver(() => Money)
  price(@Root() offer: Offer): Money {
    return { amount: offer.priceAmount, currency: offer.priceCurrency };
  }

  @FieldResolver(() => DecimalScalar, {
    description: "What a customer can still check out right now: the product's available stock, shared by every hub.",
  })
  async available(@Root() offer: Offer, @Ctx() ctx: GraphQLContext): Promise<string> {
    return (await ctx.loaders.stock.load(offer.product.id))?.available ?? '0';
  }
}
