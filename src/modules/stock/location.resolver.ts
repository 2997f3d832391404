import { Arg, Ctx, Mutation, Resolver } from 'type-graphql';
import { Allow } from '../../auth/access.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { toPayload } from '../../graphql/user-error.js';
import { Location } from './location.entity.js';
import { CreateLocationInput, LocationPayload, TransferStockInput, TransferStockPayload, UpdateLocationInput } from './stock.types.js';

@Resolver(() => Location)
export class LocationResolver {
  @Allow('admin', 'producer')
  @Mutation(() => LocationPayload, { description: 'Adds a stock location; every product gets an empty level there.' })
  createLocation(@Arg('input', () => CreateLocationInput) input: CreateLocationInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.locations.createLocation(ctx, input), (location) => ({ location }));
  }

  @Allow('admin', 'producer')
  @Mutation(() => LocationPayload, { description: "Renames a location or changes its priority; later holds follow the new order." })
  updateLocation(@Arg('input', () => UpdateLocationInput) input: UpdateLocationInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.locations.updateLocation(ctx, input), (location) => ({ location }));
  }

  @Allow('admin', 'producer')
  @Mutation(() => TransferStockPayload, { description: 'Moves available stock on hand between two of the producer\'s locations (a TRANSFER in the ledger).' })
  transferStock(@Arg('input', () => TransferStockInput) input: TransferStockInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(
      async () => {
        await ctx.services.locations.transferStock(ctx, input);
        return ctx.services.products.findProduct(ctx, input.productId);
      },
      (product) => ({ product: product ?? undefined }),
    );
  }
}
