import { Field, InputType, ObjectType } from 'type-graphql';
import { UserError } from '../../graphql/user-error.js';
import { Hub } from './hub.entity.js';
import { Producer } from './producer.entity.js';

@InputType()
export class CreateProducerInput {
  @Field(() => String)
  name!: string;
}

@InputType()
export class CreateHubInput {
  @Field(() => String)
  name!: string;
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
