import { Arg, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import { Allow } from '../../auth/access.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { toPayload } from '../../graphql/user-error.js';
import { Product } from '../catalogue/product.entity.js';
import { Location } from '../stock/location.entity.js';
import { Lot } from './lot.entity.js';
import { LotPayload, LotRefInput, MoveLotInput, ReceiveLotInput } from './lot.types.js';
import type { ProductRecord } from '../sessions/catalogue-read.js';

// Lots are only reachable through a producer's own products (Product.lots), so their fields need no further rule.
@Resolver(() => Lot)
export class LotResolver {
  @Allow('admin', 'producer')
  @Mutation(() => LotPayload, { description: 'Records a lot, in QUARANTINE (not yet stock) unless `released`.' })
  receiveLot(@Arg('input', () => ReceiveLotInput) input: ReceiveLotInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.lots.receiveLot(ctx, input), (lot) => ({ lot }));
  }

  @Allow('admin', 'producer')
  @Mutation(() => LotPayload, { description: "The lot's checks passed: it joins the stock on hand and can be sold and picked." })
  releaseLot(@Arg('input', () => LotRefInput) input: LotRefInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.lots.releaseLot(ctx, input.lotId), (lot) => ({ lot }));
  }

  @Allow('admin', 'producer')
  @Mutation(() => LotPayload, { description: 'Moves a whole lot to another location, with its stock.' })
  moveLot(@Arg('input', () => MoveLotInput) input: MoveLotInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.lots.moveLot(ctx, input), (lot) => ({ lot }));
  }

  @FieldResolver(() => Product)
  async product(@Root() lot: Lot, @Ctx() ctx: GraphQLContext): Promise<ProductRecord> {
    return (await ctx.loaders.product.load(lot.product.id))!;
  }

  @FieldResolver(() => Location)
  async location(@Root() lot: Lot, @Ctx() ctx: GraphQLContext): Promise<Location> {
    return (await ctx.loaders.location.load(lot.location.id))!;
  }
}
