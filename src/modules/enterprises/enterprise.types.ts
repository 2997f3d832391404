import { Field, InputType, ObjectType } from 'type-graphql';
import { IdScalar } from '../../graphql/scalars.js';
import { UserError } from '../../graphql/user-error.js';
import { Hub } from './hub.entity.js';
import { Producer } from './producer.entity.js';

@InputType()
export class CreateProducerInput {
  @Field(() => String)
  name!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Send one (at most 200 characters) to make a retry safe: a repeat with the same key and input returns the first producer and creates no other; the same key with a different input is IDEMPOTENCY_CONFLICT. Scoped to the operator.',
  })
  idempotencyKey?: string | null;
}

@InputType()
export class CreateHubInput {
  @Field(() => String)
  name!: string;

  @Field(() => String, {
    nullable: true,
    description: 'Send one (at most 200 characters) to make a retry safe: a repeat with the same key and input returns the first hub and creates no other; the same key with a different input is IDEMPOTENCY_CONFLICT. Scoped to the operator.',
  })
  idempotencyKey?: string | null;
}

@ObjectType({ simpleResolvers: true })
export class CreateProducerPayload {
  @Field(() => Producer, { nullable: true })
  producer?: Producer;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class CreateHubPayload {
  @Field(() => Hub, { nullable: true })
  hub?: Hub;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@InputType({ description: 'A producer and a hub: whether the hub may offer the producer\'s products in its sessions.' })
export class HubApprovalInput {
  @Field(() => IdScalar)
  producerId!: string;

  @Field(() => IdScalar)
  hubId!: string;
}

@ObjectType({ simpleResolvers: true })
export class HubApprovalPayload {
  @Field(() => Producer, { nullable: true })
  producer?: Producer;

  @Field(() => Hub, { nullable: true })
  hub?: Hub;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
