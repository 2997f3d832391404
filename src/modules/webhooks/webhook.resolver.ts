import { Arg, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { Allow } from '../../auth/access.js';
import { listSize, MAX_LIST } from '../../graphql/lists.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { DateTimeScalar, IdScalar } from '../../graphql/scalars.js';
import { toPayload } from '../../graphql/user-error.js';
import { Webhook } from './webhook.entity.js';
import {
  RegisterWebhookInput,
  RegisterWebhookPayload,
  RemoveWebhookInput,
  WebhookAttemptView,
  WebhookDeliveryView,
  WebhookPayload,
} from './webhook.types.js';

@Resolver(() => Webhook)
export class WebhookResolver {
  @Allow('admin', 'hub', 'producer')
  @Query(() => Webhook, { nullable: true, description: 'Null unless it is yours.' })
  webhook(@Arg('id', () => IdScalar) id: string, @Ctx() ctx: GraphQLContext): Promise<Webhook | null> {
    return ctx.services.webhooks.find(ctx, id);
  }

  @Allow('admin', 'hub', 'producer')
  @Query(() => [Webhook], { description: 'Yours (a hub its own, a producer those no hub scopes), oldest first. The next page: `after:` the last webhook of this one.' })
  webhooks(
    @Ctx() ctx: GraphQLContext,
    @Arg('active', () => Boolean, { nullable: true, description: 'Only those still sending (true) or removed (false).' }) active?: boolean,
    @Arg('first', () => Int, { nullable: true, description: `At most ${MAX_LIST} (the default).` }) first?: number,
    @Arg('after', () => IdScalar, { nullable: true, description: 'Only the webhooks after this one, oldest first.' }) after?: string,
  ): Promise<Webhook[]> {
    return ctx.services.webhooks.list(ctx, { active, limit: listSize(first), after });
  }

  @Allow('admin', 'hub', 'producer')
  @Mutation(() => RegisterWebhookPayload, { description: 'Receive events as signed HTTP POSTs (see the README for verifying them).' })
  registerWebhook(@Arg('input', () => RegisterWebhookInput) input: RegisterWebhookInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.webhooks.register(ctx, input), (result) => result);
  }

  @Allow('admin', 'hub', 'producer')
  @Mutation(() => WebhookPayload)
  removeWebhook(@Arg('input', () => RemoveWebhookInput) input: RemoveWebhookInput, @Ctx() ctx: GraphQLContext) {
    return toPayload(() => ctx.services.webhooks.remove(ctx, input.webhookId), (webhook) => ({ webhook }));
  }

  @FieldResolver(() => DateTimeScalar)
  createdAt(@Root() webhook: Webhook): Date {
    return webhook.createdAt;
  }

  @FieldResolver(() => [WebhookDeliveryView], { description: 'Newest first. The next page: `before:` the last delivery of this one.' })
  deliveries(
    @Root() webhook: Webhook,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { defaultValue: 50, description: 'At most 500.' }) first: number,
    @Arg('before', () => IdScalar, { nullable: true, description: 'Only deliveries older than this one.' }) before?: string,
    @Arg('pendingOnly', () => Boolean, { defaultValue: false, description: 'Only those not delivered yet: what a failing endpoint holds up.' }) pendingOnly?: boolean,
  ): Promise<WebhookDeliveryView[]> {
    return ctx.loaders.deliveriesByWebhook.load({ parentId: webhook.id, page: { limit: listSize(first), before, pendingOnly: pendingOnly ?? false } });
  }
}

@Resolver(() => WebhookDeliveryView)
export class WebhookDeliveryResolver {
  @FieldResolver(() => [WebhookAttemptView], { description: 'Every try, oldest first.' })
  async attempts(@Root() delivery: WebhookDeliveryView, @Ctx() ctx: GraphQLContext): Promise<WebhookAttemptView[]> {
    return ctx.loaders.webhookAttempts.load(delivery.id);
  }

  @FieldResolver(() => DateTimeScalar, { nullable: true })
  nextAttemptAt(@Root() delivery: WebhookDeliveryView): Date | null {
    return delivery.status === 'PENDING' ? delivery.nextAttemptAt : null;
  }
}
