import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { Allow } from '../../auth/access.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { toPayload } from '../../graphql/user-error.js';
import { AdjustStockInput, AdjustStockPayload } from './stock.types.js';

@Resolver()
export class StockResolver {
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
