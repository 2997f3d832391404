import { Arg, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { listSize, MAX_LIST } from '../../graphql/lists.js';
import { Allow } from '../../auth/access.js';
import { seesCustomerOrderLine } from '../../auth/policy.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { Money } from '../../graphql/money.js';
import { DateTimeScalar, DecimalScalar, IdScalar } from '../../graphql/scalars.js';
import { toPayload } from '../../graphql/user-error.js';
import { Product } from '../catalogue/product.entity.js';
import { Offer } from '../sessions/offer.entity.js';
import { SalesSession } from '../sessions/sales-session.entity.js';
import { CustomerOrderLine } from './customer-order-line.entity.js';
import { CustomerOrder, type CustomerOrderView } from './customer-order.entity.js';
import { CheckoutInput, CheckoutPayload, CustomerOrderPayload, CustomerOrderRefInput } from './order.types.js';
import { CustomerOrderStatus } from './order-states.js';
import { lineAmount, moneyOrNull, orderTotal } from './order-totals.js';
import type { ProductRecord } from '../sessions/catalogue-read.js';

@Resolver(() => CustomerOrder)
export class CustomerOrderResolver {
  @Allow('admin', 'hub', 'customer')
  @Query(() => CustomerOrder, { nullable: true, description: 'Null unless it is your order (or your hub\'s).' })
  customerOrder(@Arg('id', () => IdScalar) id: string, @Ctx() ctx: GraphQLContext): Promise<CustomerOrder | null> {
    return ctx.services.customerOrders.findCustomerOrder(ctx, id);
  }

  @Allow('admin', 'hub', 'customer')
  @Query(() => [CustomerOrder], {
    description: `A session's customer orders, oldest first: a hub's own, a customer's own. The next page: \`after:\` the last order of this one.`,
  })
  customerOrders(
    @Ctx() ctx: GraphQLContext,
    @Arg('salesSessionId', () => IdScalar) salesSessionId: string,
    @Arg('status', () => [CustomerOrderStatus], { nullable: true, description: 'Only orders in one of these statuses.' }) status?: CustomerOrderStatus[],
    @Arg('customerRef', () => String, { nullable: true }) customerRef?: string,
    @Arg('idempotencyKey', () => String, { nullable: true, description: 'The order a checkout with this key placed.' }) idempotencyKey?: string,
    @Arg('first', () => Int, { nullable: true, description: `At most ${MAX_LIST} (the default).` }) first?: number,
    @Arg('after', () => IdScalar, { nullable: true, description: 'Only the orders after this one, oldest first.' }) after?: string,
  ): Promise<CustomerOrder[]> {
    return ctx.services.customerOrders.list(ctx, { salesSessionId, status, customerRef, idempotencyKey, limit: listSize(first), after });
  }

  @Allow('admin', 'hub')
  @Mutation(() => CheckoutPayload, {
    description: "Holds the producers' stock for the whole basket, or for none of it (INSUFFICIENT_STOCK).",
  })
  checkout(@Arg('input', () => CheckoutInput) input: CheckoutInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.checkout.checkout(ctx, input), (customerOrder) => ({ customerOrder }));
  }

  @Allow('admin', 'hub')
  @Mutation(() => CustomerOrderPayload, { description: 'Payment succeeded: the order is CONFIRMED; the producer orders do not change.' })
  confirmPayment(@Arg('input', () => CustomerOrderRefInput) input: CustomerOrderRefInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.customerOrders.confirmPayment(ctx, input.customerOrderId), (customerOrder) => ({ customerOrder }));
  }

  @Allow('admin', 'hub')
  @Mutation(() => CustomerOrderPayload, { description: 'Payment failed: the hold is released at once (PAYMENT_FAILED).' })
  failPayment(@Arg('input', () => CustomerOrderRefInput) input: CustomerOrderRefInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.customerOrders.failPayment(ctx, input.customerOrderId), (customerOrder) => ({ customerOrder }));
  }

  @Allow('admin', 'hub')
  @Mutation(() => CustomerOrderPayload, {
    description: "Gives a pending order's hold HOLD_DURATION more from now, for a payment that takes longer, but never past HOLD_MAX_DURATION from its checkout (then it answers with the order as it is: read holdExpiresAt). HOLD_EXPIRED once the hold has lapsed; SESSION_NOT_OPEN once the session has closed.",
  })
  extendHold(@Arg('input', () => CustomerOrderRefInput) input: CustomerOrderRefInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.customerOrders.extendHold(ctx, input.customerOrderId), (customerOrder) => ({ customerOrder }));
  }

  @Allow('admin', 'hub', 'customer')
  @Mutation(() => CustomerOrderPayload, { description: 'Cancels a customer order and releases its stock at once.' })
  cancelCustomerOrder(@Arg('input', () => CustomerOrderRefInput) input: CustomerOrderRefInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.customerOrders.cancel(ctx, input.customerOrderId), (customerOrder) => ({ customerOrder }));
  }

  @FieldResolver(() => SalesSession)
  async salesSession(@Root() order: CustomerOrderView, @Ctx() ctx: GraphQLContext): Promise<SalesSession> {
    return (await ctx.loaders.salesSession.load(order.salesSession.id))!;
  }

  @FieldResolver(() => DateTimeScalar, { description: 'When the checkout placed it.' })
  createdAt(@Root() order: CustomerOrderView): Date {
    return order.createdAt;
  }

  @FieldResolver(() => DateTimeScalar, { description: 'When its status last changed (when it was placed, if never).' })
  updatedAt(@Root() order: CustomerOrderView): Date {
    return order.updatedAt;
  }

  @FieldResolver(() => DateTimeScalar, {
    nullable: true,
    description: 'When its payment was confirmed (confirmPayment). Kept if the order is cancelled afterwards (by its customer, its hub, or with its session): a CANCELLED order with paidAt is one to refund. Null for orders paid before this was kept.',
  })
  paidAt(@Root() order: CustomerOrderView): Date | null {
    return order.paidAt ?? null;
  }

  @FieldResolver(() => CustomerOrder, { nullable: true, description: 'The order that took this one\'s place when its customer changed the basket (checkout with replacesCustomerOrderId).' })
  async replacedBy(@Root() order: CustomerOrderView, @Ctx() ctx: GraphQLContext): Promise<CustomerOrder | null> {
    // The same hub's and the same customer's as this one: whoever reads this one may read it.
    return order.replacedBy ? ctx.loaders.customerOrder.load(order.replacedBy.id) : null;
  }

  @FieldResolver(() => DateTimeScalar, { nullable: true, description: 'Set while PENDING_PAYMENT.' })
  holdExpiresAt(@Root() order: CustomerOrderView): Date | null {
    return order.status === CustomerOrderStatus.PENDING_PAYMENT ? (order.holdExpiresAt ?? null) : null;
  }

  /** The customer's and the hub's business: a producer packing its lines never sees what the whole basket cost. */
  @Allow('admin', 'hub', 'customer')
  @FieldResolver(() => Money, {
    nullable: true,
    description: 'The sum of its lines\' totals, each rounded to a whole minor unit first; null if its lines are in more than one currency, or past 2,147,483,647 minor units.',
  })
  async total(@Root() order: CustomerOrderView, @Ctx() ctx: GraphQLContext): Promise<Money | null> {
    return orderTotal(await ctx.loaders.linesByCustomerOrder.load(order.id));
  }

  @FieldResolver(() => [CustomerOrderLine], { description: "A producer sees only its own products' lines." })
  async lines(@Root() order: CustomerOrderView, @Ctx() ctx: GraphQLContext): Promise<CustomerOrderLine[]> {
    const lines = await ctx.loaders.linesByCustomerOrder.load(order.id);
    if (ctx.actor.kind !== 'producer') return lines;
    const producerOrders = await Promise.all(lines.map((line) => ctx.loaders.producerOrder.load(line.producerOrder.id)));
    return lines.filter((_, i) => seesCustomerOrderLine(ctx.actor, { producerId: producerOrders[i]!.producer.id }));
  }
}

@Resolver(() => CustomerOrderLine)
export class CustomerOrderLineResolver {
  @FieldResolver(() => Offer)
  async offer(@Root() line: CustomerOrderLine, @Ctx() ctx: GraphQLContext): Promise<Offer> {
    return (await ctx.loaders.offer.load(line.offer.id))!;
  }

  @FieldResolver(() => Product)
  async product(@Root() line: CustomerOrderLine, @Ctx() ctx: GraphQLContext): Promise<ProductRecord> {
    return (await ctx.loaders.product.load(line.product.id))!;
  }

  @FieldResolver(() => DecimalScalar)
  quantity(@Root() line: CustomerOrderLine): string {
    return line.quantity;
  }

  @FieldResolver(() => Money, { description: 'The price per unit when the customer checked out.' })
  unitPrice(@Root() line: CustomerOrderLine): Money {
    return { amount: line.unitPriceAmount, currency: line.currency };
  }

  @FieldResolver(() => Money, { nullable: true, description: 'quantity × unitPrice, rounded half up to a whole minor unit; null past 2,147,483,647 minor units.' })
  lineTotal(@Root() line: CustomerOrderLine): Money | null {
    return moneyOrNull(lineAmount(line.quantity, line.unitPriceAmount), line.currency);
  }

  @FieldResolver(() => Money, { nullable: true, description: 'fulfilledQuantity × unitPrice, rounded the same way: what the customer owes once it shipped (null before, or past 2,147,483,647 minor units).' })
  fulfilledTotal(@Root() line: CustomerOrderLine): Money | null {
    return line.fulfilledQuantity === undefined || line.fulfilledQuantity === null
      ? null
      : moneyOrNull(lineAmount(line.fulfilledQuantity, line.unitPriceAmount), line.currency);
  }
}
