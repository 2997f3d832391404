import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import { Allow } from '../../auth/access.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { toPayload } from '../../graphql/user-error.js';
import { AdjustStockInput, AdjustStockPayload, StockDrift } from './stock.types.js';

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
