import { Arg, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Allow } from '../../auth/access.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { toPayload } from '../../graphql/user-error.js';
import { Lot } from '../lots/lot.entity.js';
import { ProducerOrder } from '../orders/producer-order.entity.js';
import { Location } from './location.entity.js';
import { AdjustStockInput, AdjustStockPayload, StockDrift, StockMovementView } from './stock.types.js';

@Resolver()
export class StockResolver {
  @Allow('admin')
  @Query(() => [StockDrift], { description: 'For operators: products whose stock drifted from the ledger. Empty when all is well.' })
  stockReconciliation(@Ctx() ctx: GraphQLContext): Promise<StockDrift[]> {
    return ctx.services.stock.reconcile(ctx.em);
  }

  @Allow('admin', 'producer')
  @Mutation(() => AdjustStockPayload)
  adjustStock(@Arg('input', () => AdjustStockInput) input: AdjustStockInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(
      async () => {
        await ctx.services.stock.adjust(ctx, input);
        return ctx.services.products.findProduct(ctx, input.productId);
      },
      (product) => ({ product: product ?? undefined }),
    );
  }
}

/** A ledger row's places and order: reached only through its product, by its producer. */
@Resolver(() => StockMovementView)
export class StockMovementResolver {
  @FieldResolver(() => Location)
  async location(@Root() movement: StockMovementView, @Ctx() ctx: GraphQLContext): Promise<Location> {
    return (await ctx.loaders.location.load(movement.locationId))!;
  }

  @FieldResolver(() => Lot, { nullable: true })
  lot(@Root() movement: StockMovementView, @Ctx() ctx: GraphQLContext): Promise<Lot | null> | null {
    return movement.lotId ? ctx.loaders.lot.load(movement.lotId) : null;
  }

  @FieldResolver(() => ProducerOrder, { nullable: true, description: 'The order it held, released, committed or shipped for.' })
  producerOrder(@Root() movement: StockMovementView, @Ctx() ctx: GraphQLContext): Promise<ProducerOrder | null> | null {
    return movement.producerOrderId ? ctx.loaders.producerOrder.load(movement.producerOrderId) : null;
  }
}
