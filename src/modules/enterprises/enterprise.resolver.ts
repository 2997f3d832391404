import { Arg, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { DateTimeScalar, IdScalar } from '../../graphql/scalars.js';
import { listSize, MAX_LIST } from '../../graphql/lists.js';
import { Allow, Public } from '../../auth/access.js';
import { actsForHub, actsForProducer, seesProductsOffSale } from '../../auth/policy.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { forbiddenRead } from '../../graphql/forbidden.js';
import { toPayload } from '../../graphql/user-error.js';
import { Product } from '../catalogue/product.entity.js';
import { catalogueReader } from '../catalogue/product.service.js';
import { SalesSession } from '../sessions/sales-session.entity.js';
import { Location } from '../stock/location.entity.js';
import { CreateHubInput, CreateHubPayload, CreateProducerInput, CreateProducerPayload, HubApprovalInput, HubApprovalPayload } from './enterprise.types.js';
import { Hub } from './hub.entity.js';
import { Producer } from './producer.entity.js';
import type { ProducerRecord } from '../sessions/catalogue-read.js';

@Resolver(() => Producer)
export class ProducerResolver {
  @Public()
  @Query(() => Producer, { nullable: true })
  producer(@Arg('id', () => IdScalar) id: string, @Ctx() ctx: GraphQLContext): Promise<Producer | null> {
    return ctx.services.enterprises.findProducer(ctx, id);
  }

  @Allow('admin')
  @Mutation(() => CreateProducerPayload)
  createProducer(@Arg('input', () => CreateProducerInput) input: CreateProducerInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.enterprises.createProducer(ctx, input), (producer) => ({ producer }));
  }

  @FieldResolver(() => [Product], {
    description: `Oldest first (a product renamed keeps its place); at most ${MAX_LIST} (the default). The next page: \`after:\` the last product of this one.`,
  })
  async products(
    @Root() producer: ProducerRecord,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => IdScalar, { nullable: true, description: 'Only the products after this one, oldest first.' }) after?: string,
  ): Promise<Product[]> {
    // Its products on sale nowhere are its own, its approved hubs' and the operator's (seesProductsOffSale()).
    const approved = async (hubId: string) => (await ctx.loaders.approvedHubIdsOf.load(producer.id)).includes(hubId);
    const onSaleAt = (await seesProductsOffSale(ctx.actor, producer.id, approved)) ? undefined : ctx.readAt;
    return ctx.loaders.productsByProducer.load({ parentId: producer.id, page: { limit: listSize(first), after, onSaleAt, reader: onSaleAt && catalogueReader(ctx) } });
  }

  @Allow('admin', 'producer')
  @Mutation(() => HubApprovalPayload, { description: "Lets a hub offer this producer's products in its sessions. Approving again changes nothing." })
  approveHub(@Arg('input', () => HubApprovalInput) input: HubApprovalInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.enterprises.approveHub(ctx, input), (parties) => parties);
  }

  @Allow('admin', 'producer')
  @Mutation(() => HubApprovalPayload, { description: "The hub may no longer offer this producer's products: not in new sessions, nor in its sessions that have not opened (those offers are withdrawn). Sessions open now sell on as they are." })
  revokeHub(@Arg('input', () => HubApprovalInput) input: HubApprovalInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.enterprises.revokeHub(ctx, input), (parties) => parties);
  }

  @Allow('admin', 'producer')
  @FieldResolver(() => [Hub], { description: "The hubs it approved to offer its products, first approved first. The producer's own." })
  async approvedHubs(@Root() producer: ProducerRecord, @Ctx() ctx: GraphQLContext): Promise<Hub[]> {
    if (!actsForProducer(ctx.actor, producer.id)) throw forbiddenRead("another producer's hubs");
    // Enterprises are never deleted: every approved id is a hub.
    return (await ctx.loaders.hub.loadMany(await ctx.loaders.approvedHubIdsOf.load(producer.id))) as Hub[];
  }

  @Allow('admin', 'producer')
  @FieldResolver(() => [Location], { description: 'Where the producer keeps stock, first choice first. The producer\'s own.' })
  locations(@Root() producer: ProducerRecord, @Ctx() ctx: GraphQLContext): Promise<Location[]> {
    if (!actsForProducer(ctx.actor, producer.id)) throw forbiddenRead("another producer's locations");
    return ctx.loaders.locationsByProducer.load(producer.id);
  }
}

@Resolver(() => Hub)
export class HubResolver {
  @Public()
  @Query(() => Hub, { nullable: true })
  hub(@Arg('id', () => IdScalar) id: string, @Ctx() ctx: GraphQLContext): Promise<Hub | null> {
    return ctx.services.enterprises.findHub(ctx, id);
  }

  @Allow('admin')
  @Mutation(() => CreateHubPayload)
  createHub(@Arg('input', () => CreateHubInput) input: CreateHubInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.enterprises.createHub(ctx, input), (hub) => ({ hub }));
  }

  @Allow('admin', 'hub')
  @FieldResolver(() => [Producer], { description: "The producers that approved it: whose products its sessions may offer, first approved first. The hub's own." })
  async producers(@Root() hub: Hub, @Ctx() ctx: GraphQLContext): Promise<Producer[]> {
    if (!actsForHub(ctx.actor, hub.id)) throw forbiddenRead("another hub's producers");
    return (await ctx.loaders.producer.loadMany(await ctx.loaders.approvingProducerIdsOf.load(hub.id))) as Producer[];
  }

  @FieldResolver(() => [SalesSession], {
    description: `By opening time; at most ${MAX_LIST} (the default). The next page: \`after:\` the last session of this one. Open and coming sessions: \`closesAfter:\` now. Anyone but the hub and the operator gets only those, and a producer the ended ones that offered its products too.`,
  })
  salesSessions(
    @Root() hub: Hub,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => IdScalar, { nullable: true, description: 'Only the sessions after this one, in opening order.' }) after?: string,
    @Arg('closesAfter', () => DateTimeScalar, { nullable: true, description: 'Only the sessions closing after this instant.' }) closesAfter?: Date,
  ): Promise<SalesSession[]> {
    // For anyone but the hub and the operator, the sessions selling or to come (the catalogue),
    // and for a producer those it supplied too (seesSessionWhole()).
    const visibleTo = actsForHub(ctx.actor, hub.id)
      ? undefined
      : { sellingAt: ctx.readAt, suppliedBy: ctx.actor.kind === 'producer' ? ctx.actor.producerId : null };
    return ctx.loaders.hubSessions.load({ parentId: hub.id, page: { limit: listSize(first), after, closesAfter, visibleTo } });
  }
}
