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
import { type Amount, moneyOrNull, sumAmounts, wholesaleAmount } from './order-totals.js';
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
    return rows.map((row, i) => {
      const [only] = row.byWholesalePrice;
      const single = row.byWholesalePrice.length === 1 && only!.amount !== null;
      return {
        product: products[i] as Product,
        quantity: row.quantity,
        wholesalePrice: single ? { amount: only!.amount!, currency: only!.currency! } : null,
        wholesaleTotal: asMoney(wholesaleAmount(row.byWholesalePrice)),
      };
    });
  }

  @FieldResolver(() => Money, {
    nullable: true,
    description: "What the hub owes the producer for the order as checked out: its lines' wholesaleTotal added up; null when it has no lines, when one is null, or when they are in more than one currency. What a short fill took off is in shipment.",
  })
  async wholesaleTotal(@Root() order: ProducerOrder, @Ctx() ctx: GraphQLContext): Promise<Money | null> {
    const rows = await ctx.loaders.producerOrderLines.load(order.id);
    return asMoney(sumAmounts(rows.map((row) => wholesaleAmount(row.byWholesalePrice))));
  }
}

/** An amount as Money: null when there is none, or past what Money's Int holds. */
function asMoney(amount: Amount | null): Money | null {
  return amount && moneyOrNull(amount.amount, amount.currency);
}
