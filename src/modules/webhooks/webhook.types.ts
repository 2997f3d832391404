import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar, IdScalar } from '../../graphql/scalars.js';
import { UserError } from '../../graphql/user-error.js';
import { Webhook } from './webhook.entity.js';

@InputType()
export class RegisterWebhookInput {
  @Field(() => String, { description: 'Where to POST events (http or https).' })
  url!: string;

  @Field(() => [String], {
    description: 'Event kinds to receive: HELD, RELEASED, COMPLETED, ADJUSTED, LOT_RELEASED, TRANSFERRED, LOT_SWAPPED, SHIPPED, SHORT_FILLED (a hub: not the stock-only ADJUSTED, LOT_RELEASED, TRANSFERRED). Offer changes are for availabilityChanged, not webhooks.',
  })
  kinds!: string[];

  @Field(() => IdScalar, { nullable: true, description: "Only this producer's events." })
  producerId?: string | null;

  @Field(() => IdScalar, { nullable: true, description: "Only events of this hub's producer orders." })
  hubId?: string | null;

  @Field(() => String, { nullable: true, description: 'The signing secret, 16 to 200 characters; one is generated when absent.' })
  secret?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Send one (at most 200 characters) to make a retry safe: a repeat with the same key and input returns the first webhook and its secret, and registers no other; the same key with a different input is IDEMPOTENCY_CONFLICT. Scoped to the webhook's owner (its hub, else its producer).",
  })
  idempotencyKey?: string | null;
}

@InputType()
export class RemoveWebhookInput {
  @Field(() => IdScalar)
  webhookId!: string;
}

@ObjectType({ simpleResolvers: true })
export class RegisterWebhookPayload {
  @Field(() => Webhook, { nullable: true })
  webhook?: Webhook;

  @Field(() => String, { nullable: true, description: 'The HMAC-SHA256 signing secret. Shown only here, and again to a retry with the same idempotencyKey: keep it.' })
  secret?: string;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class WebhookPayload {
  @Field(() => Webhook, { nullable: true })
  webhook?: Webhook;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class WebhookAttemptView {
  @Field(() => DateTimeScalar)
  attemptedAt!: Date;

  @Field(() => Int, { nullable: true, description: "The receiver's HTTP status, if it answered." })
  statusCode!: number | null;

  @Field(() => String, { nullable: true })
  error!: string | null;
}

@ObjectType('WebhookDelivery', { simpleResolvers: true })
export class WebhookDeliveryView {
  @Field(() => IdScalar)
  id!: string;

  @Field(() => IdScalar, { description: 'The id of the event delivered (as in subscriptions).' })
  eventId!: string;

  @Field(() => String, { description: 'PENDING until the receiver answers 2xx, then DELIVERED.' })
  status!: string;

  @Field(() => Int, {
    description: 'Attempts started. One cut off by a crash before its answer was recorded counts here (the receiver may have had it) but has no entry in `attempts`.',
  })
  attemptCount!: number;

  @Field(() => DateTimeScalar, { nullable: true })
  nextAttemptAt!: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  deliveredAt!: Date | null;

  @Field(() => String, { description: 'The exact JSON body sent (and signed).' })
  body!: string;
}
