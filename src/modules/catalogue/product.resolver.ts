import { Arg, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { IdScalar } from '../../graphql/scalars.js';
import { Allow, Public } from '../../auth/access.js';
import { actsForProducer } from '../../auth/policy.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { forbiddenRead } from '../../graphql/forbidden.js';
import { toPayload } from '../../graphql/user-error.js';
import { Producer } from '../enterprises/producer.entity.js';
import { Location } from '../stock/location.entity.js';
import { Lot, LotStatus } from '../lots/lot.entity.js';
import { listSize, MAX_LIST } from '../../graphql/lists.js';
import { LocationStock, Stock, StockMovementView } from '../stock/stock.types.js';
import { Product } from './product.entity.js';
import { requireSeesWholesalePrice } from './wholesale-access.js';
import { Money } from '../../graphql/money.js';
import { CreateProductInput, CreateProductPayload, ProductDimensions, UpdateProductInput, UpdateProductPayload } from './product.types.js';
import type { ProducerRecord, ProductRecord } from '../sessions/catalogue-read.js';

@Resolver(() => Product)
export class ProductResolver {
  @Public()
  @Query(() => Product, { nullable: true })
  product(@Arg('id', () => IdScalar) id: string, @Ctx() ctx: GraphQLContext): Promise<Product | null> {
    return ctx.services.products.findProduct(ctx, id, ctx.readAt);
  }

  @Allow('admin', 'producer')
  @Mutation(() => CreateProductPayload)
  createProduct(@Arg('input', () => CreateProductInput) input: CreateProductInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.products.createProduct(ctx, input), (product) => ({ product }));
  }

  @Allow('admin', 'producer')
  @Mutation(() => UpdateProductPayload, { description: "Changes a product's name, SKU or details (not its unit), for its producer." })
  updateProduct(@Arg('input', () => UpdateProductInput) input: UpdateProductInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.products.updateProduct(ctx, input), (product) => ({ product }));
  }

  @FieldResolver(() => ProductDimensions, { nullable: true })
  dimensions(@Root() product: ProductRecord): ProductDimensions | null {
    const { lengthCm, widthCm, heightCm } = product;
    return lengthCm && widthCm && heightCm ? { lengthCm, widthCm, heightCm } : null;
  }

  /** Between the producer and the hubs it approved (approveHub): not for other hubs, storefront visitors or customers, nor other producers. */
  @Allow('admin', 'producer', 'hub')
  @FieldResolver(() => Money, { nullable: true, description: "The producer's price to hubs for one unit: for the hubs it approved and the producer itself." })
  async wholesalePrice(@Root() product: ProductRecord, @Ctx() ctx: GraphQLContext): Promise<Money | null> {
    await requireSeesWholesalePrice(ctx, product.producer.id);
    const { wholesalePriceAmount: amount, wholesalePriceCurrency: currency } = product;
    return amount !== null && amount !== undefined && currency ? { amount, currency } : null;
  }

  @FieldResolver(() => Producer)
  producer(@Root() product: ProductRecord, @Ctx() ctx: GraphQLContext): ProducerRecord | Promise<ProducerRecord> {
    return product.read?.producer ?? ctx.loaders.producer.load(product.producer.id).then((producer) => producer!);
  }

  @Allow('admin', 'producer')
  @FieldResolver(() => Stock, { description: "The producer's own figures; storefronts read Offer.available." })
  async stock(@Root() product: ProductRecord, @Ctx() ctx: GraphQLContext): Promise<Stock> {
    if (!actsForProducer(ctx.actor, product.producer.id)) throw forbiddenRead("another producer's stock");
    return (await ctx.loaders.stock.load(product.id)) ?? Stock.EMPTY;
  }

  @Allow('admin', 'producer')
  @FieldResolver(() => [Lot], {
    description: `Its lots, earliest best-before first (those without one last), then by code; at most ${MAX_LIST} (the default). The next page: \`after:\` the last lot of this one.`,
  })
  async lots(
    @Root() product: ProductRecord,
    @Ctx() ctx: GraphQLContext,
    @Arg('status', () => LotStatus, { nullable: true }) status?: LotStatus,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => IdScalar, { nullable: true, description: 'Only the lots after this one, in this order.' }) after?: string,
  ): Promise<Lot[]> {
    if (!actsForProducer(ctx.actor, product.producer.id)) throw forbiddenRead("another producer's lots");
    return ctx.loaders.lotsByProduct.load({ parentId: product.id, page: { limit: listSize(first), after, status } });
  }

  @Allow('admin', 'producer')
  @FieldResolver(() => [StockMovementView], {
    description: `Its stock ledger, newest first: every change of its levels (adjustments, holds, releases, commitments, lots received, transfers, shipments); at most ${MAX_LIST} (the default). The next page: \`before:\` the last movement of this one.`,
  })
  async stockMovements(
    @Root() product: ProductRecord,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('before', () => IdScalar, { nullable: true, description: 'Only the movements older than this one.' }) before?: string,
  ): Promise<StockMovementView[]> {
    if (!actsForProducer(ctx.actor, product.producer.id)) throw forbiddenRead("another producer's stock");
    return ctx.loaders.ledgerByProduct.load({ parentId: product.id, page: { limit: listSize(first), before } });
  }

  @Allow('admin', 'producer')
  @FieldResolver(() => [LocationStock], { description: 'The stock at each of the producer\'s locations, first choice first; `stock` is their sum.' })
  async stockByLocation(@Root() product: ProductRecord, @Ctx() ctx: GraphQLContext): Promise<LocationStock[]> {
    if (!actsForProducer(ctx.actor, product.producer.id)) throw forbiddenRead("another producer's stock");
    const levels = await ctx.loaders.stockByLocation.load(product.id);
    const locations = await ctx.loaders.location.loadMany(levels.map((l) => l.locationId));
    return levels.map((level, i) => ({ ...level, location: locations[i] as Location }));
  }
}
