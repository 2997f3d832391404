import { Arg, Ctx, FieldResolver, Int, Query, Resolver, Root } from 'type-graphql';
import { IdScalar } from '../../graphql/scalars.js';
import { Allow } from '../../auth/access.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { Hub } from '../enterprises/hub.entity.js';
import { Producer } from '../enterprises/producer.entity.js';
import { SalesSession } from '../sessions/sales-session.entity.js';
import { Product } from '../catalogue/product.entity.js';
import { listSize, MAX_LIST } from '../../graphql/lists.js';
import { Money } from '../../graphql/money.js';
import { FulfilmentState, OrderState } from './order-states.js';
import { asMoney, singleWholesalePrice, sumAmounts, totalAtPrices } from './order-totals.js';
import { requireSeesWholesalePrice } from '../catalogue/wholesale-access.js';
import { ProducerOrderLine } from './order.types.js';
import { ProducerOrder } from './producer-order.entity.js';
import type { ProducerRecord } from '../sessions/catalogue-read.js';

@Resolver(() => ProducerOrder)
export class ProducerOrderResolver {
  @Allow('admin', 'hub', 'producer')
  @Query(() => [ProducerOrder], {
    description: 'Oldest first; a producer sees its own orders, a hub its own. The next page: `after:` the last order of this one.',
  })
  producerOrders(
    @Ctx() ctx: GraphQLContext,
    @Arg('producerId', () => IdScalar, { nullable: true }) producerId?: string,
    @Arg('salesSessionId', () => IdScalar, { nullable: true }) salesSessionId?: string,
    @Arg('orderState', () => OrderState, { nullable: true }) orderState?: OrderState,
    @Arg('fulfilmentState', () => FulfilmentState, { nullable: true, description: 'UNFULFILLED: what is still to pick, pack and ship.' }) fulfilmentState?: FulfilmentState,
    @Arg('first', () => Int, { nullable: true, description: `At most ${MAX_LIST} (the default).` }) first?: number,
    @Arg('after', () => IdScalar, { nullable: true, description: 'Only the orders after this one, oldest first.' }) after?: string,
  ): Promise<ProducerOrder[]> {
    return ctx.services.producerOrders.list(ctx, { producerId, salesSessionId, orderState, fulfilmentState, limit: listSize(first), after });
  }

  @FieldResolver(() => Producer)
  async producer(@Root() order: ProducerOrder, @Ctx() ctx: GraphQLContext): Promise<ProducerRecord> {
    return (await ctx.loaders.producer.load(order.producer.id))!;
  }

  @FieldResolver(() => Hub)
  async hub(@Root() order: ProducerOrder, @Ctx() ctx: GraphQLContext): Promise<Hub> {
    return (await ctx.loaders.hub.load(order.hub.id))!;
  }

  @FieldResolver(() => SalesSession)
  async salesSession(@Root() order: ProducerOrder, @Ctx() ctx: GraphQLContext): Promise<SalesSession> {
    return (await ctx.loaders.salesSession.load(order.salesSession.id))!;
  }

  @FieldResolver(() => [ProducerOrderLine])
  async lines(@Root() order: ProducerOrder, @Ctx() ctx: GraphQLContext): Promise<ProducerOrderLine[]> {
    const rows = await ctx.loaders.producerOrderLines.load(order.id);
    const products = await ctx.loaders.product.loadMany(rows.map((r) => r.productId));
    return rows.map((row, i) => ({ product: products[i] as Product, quantity: row.quantity, producerId: order.producer.id, byWholesalePrice: row.byWholesalePrice }));
  }

  @FieldResolver(() => Money, {
    nullable: true,
    description: "What the hub owes the producer for the order as checked out: its lines' wholesaleTotal added up; null when it has no lines, when one is null, or when they are in more than one currency. What a short fill took off is in shipment. For the producer and the hubs it approved.",
  })
  async wholesaleTotal(@Root() order: ProducerOrder, @Ctx() ctx: GraphQLContext): Promise<Money | null> {
    await requireSeesWholesalePrice(ctx, order.producer.id);
    const rows = await ctx.loaders.producerOrderLines.load(order.id);
    return asMoney(sumAmounts(rows.map((row) => totalAtPrices(row.byWholesalePrice))));
  }
}

@Resolver(() => ProducerOrderLine)
export class ProducerOrderLineResolver {
  @FieldResolver(() => Money, {
    nullable: true,
    description: "The producer's price to the hub for one unit, as it was when the customers checked out (Product.wholesalePrice then); null when they checked out at different prices (wholesaleTotal then adds each price's share) or the product had none. For the producer and the hubs it approved.",
  })
  async wholesalePrice(@Root() line: ProducerOrderLine, @Ctx() ctx: GraphQLContext): Promise<Money | null> {
    await requireSeesWholesalePrice(ctx, line.producerId);
    return singleWholesalePrice(line.byWholesalePrice);
  }

  @FieldResolver(() => Money, {
    nullable: true,
    description: "What the hub owes for the line: its quantity times the wholesale price it was checked out at (each price's share rounded half up to a whole minor unit); null when some of it was checked out without a wholesale price, or at prices in more than one currency. For the producer and the hubs it approved.",
  })
  async wholesaleTotal(@Root() line: ProducerOrderLine, @Ctx() ctx: GraphQLContext): Promise<Money | null> {
    await requireSeesWholesalePrice(ctx, line.producerId);
    return asMoney(totalAtPrices(line.byWholesalePrice));
  }
}
