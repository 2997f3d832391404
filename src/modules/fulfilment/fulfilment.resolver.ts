import { Arg, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Allow } from '../../auth/access.js';
import { actsForProducer } from '../../auth/policy.js';
import { forbiddenRead } from '../../graphql/forbidden.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { DateTimeScalar, IdScalar } from '../../graphql/scalars.js';
import { toPayload } from '../../graphql/user-error.js';
import { formatQuantity } from '../../shared/quantity.js';
import type { Product } from '../catalogue/product.entity.js';
import { ProducerOrder } from '../orders/producer-order.entity.js';
import {
  HubCustomerPayload, PackListHub, PickLine, PickList, ProducerOrderPayload, SetCustomerPriorityInput, ShipmentLineView,
  ShipProducerOrderInput, SwapLotInput,
} from './fulfilment.types.js';
import { FulfilmentViews } from './fulfilment.views.js';

@Resolver()
export class FulfilmentResolver {
  @Allow('admin', 'producer')
  @Query(() => PickList, { description: "A producer's pick list for a delivery day (YYYY-MM-DD, in each session's time zone). CSV: GET /csv/pick-list." })
  async pickList(
    @Arg('producerId', () => IdScalar) producerId: string,
    @Arg('deliveryDay', () => String) deliveryDay: string,
    @Ctx() ctx: GraphQLContext,
  ): Promise<PickList> {
    return new FulfilmentViews(ctx).pickList(await ctx.services.picking.pickList(ctx, producerId, deliveryDay));
  }

  @Allow('admin', 'producer', 'hub')
  @Query(() => [PackListHub], { description: "Pack lists for a producer's delivery day, per hub and customer; a hub sees its own. CSV: GET /csv/pack-list." })
  async packList(
    @Arg('producerId', () => IdScalar) producerId: string,
    @Arg('deliveryDay', () => String) deliveryDay: string,
    @Ctx() ctx: GraphQLContext,
    @Arg('hubId', () => IdScalar, { nullable: true }) hubId?: string,
  ): Promise<PackListHub[]> {
    return new FulfilmentViews(ctx).packList(await ctx.services.packing.packList(ctx, producerId, deliveryDay, hubId));
  }

  @Allow('admin', 'producer')
  @Mutation(() => ProducerOrderPayload, { description: 'Picks another lot than the suggested one; refused unless it meets the same criteria and has the quantity.' })
  swapLot(@Arg('input', () => SwapLotInput) input: SwapLotInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(
      async () => {
        await ctx.services.picking.swapLot(ctx, input);
        return ctx.em.findOneOrFail(ProducerOrder, input.producerOrderId, { refresh: true });
      },
      (producerOrder) => ({ producerOrder }),
    );
  }

  @Allow('admin', 'producer')
  @Mutation(() => ProducerOrderPayload, { description: 'Ships a producer order (FULFILLED); shipping less than ordered short-fills the latest customer orders first.' })
  shipProducerOrder(@Arg('input', () => ShipProducerOrderInput) input: ShipProducerOrderInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(
      async () => {
        await ctx.services.shipping.ship(ctx, input);
        return ctx.em.findOneOrFail(ProducerOrder, input.producerOrderId, { refresh: true });
      },
      (producerOrder) => ({ producerOrder }),
    );
  }

  @Allow('admin', 'hub')
  @Mutation(() => HubCustomerPayload, { description: "Marks a hub's customer as priority: their orders lose last in a short fill." })
  setCustomerPriority(@Arg('input', () => SetCustomerPriorityInput) input: SetCustomerPriorityInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.enterprises.setCustomerPriority(ctx, input), (customer) => ({ customer }));
  }
}

@Resolver(() => ProducerOrder)
export class ProducerOrderFulfilmentResolver {
  @Allow('admin', 'producer')
  // Nullable: a hub reading its producer orders with this field selected gets null here, beside
  // the FORBIDDEN error, rather than losing the whole answer to a non-null field it may not read.
  @FieldResolver(() => [PickLine], {
    nullable: true,
    description: "While UNFULFILLED: each line with the lots to pick, beside its criteria. The producer's own (lot codes, what is left of them, locations): null for hubs, with a FORBIDDEN error.",
  })
  async pickLines(@Root() order: ProducerOrder, @Ctx() ctx: GraphQLContext): Promise<PickLine[] | null> {
    if (!actsForProducer(ctx.actor, order.producer.id)) throw forbiddenRead("another producer's picking");
    return new FulfilmentViews(ctx).pickLines(await ctx.loaders.pickLines.load(order.id));
  }

  @FieldResolver(() => [ShipmentLineView], { description: 'What really shipped, once FULFILLED.' })
  async shipment(@Root() order: ProducerOrder, @Ctx() ctx: GraphQLContext): Promise<ShipmentLineView[]> {
    const rows = await ctx.loaders.shipmentLines.load(order.id);
    const products = await ctx.loaders.product.loadMany(rows.map((r) => r.productId));
    return rows.map((row, i) => ({
      product: products[i] as Product,
      ordered: formatQuantity(row.ordered),
      quantity: formatQuantity(row.quantity),
      weightKg: row.weightKg === null || row.weightKg === undefined ? null : formatQuantity(row.weightKg),
    }));
  }

  @FieldResolver(() => DateTimeScalar, { nullable: true })
  shippedAt(@Root() order: ProducerOrder): Date | null {
    return order.shippedAt ?? null;
  }
}
