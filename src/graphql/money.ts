import { Field, InputType, Int, ObjectType } from 'type-graphql';

@ObjectType({ simpleResolvers: true, description: 'An amount of money in minor units (cents) of an ISO 4217 currency.' })
export class Money {
  @Field(() => Int)
  amount!: number;

  @Field(() => String)
  currency!: string;
}

@InputType()
export class MoneyInput {
  @Field(() => Int, { description: 'Minor units (cents).' })
  amount!: number;

  @Field(() => String, { description: 'ISO 4217 code, e.g. EUR.' })
  currency!: string;
}
