import { Field, InputType, ObjectType } from 'type-graphql';
import { IdScalar } from '../../graphql/scalars.js';
import { UserError } from '../../graphql/user-error.js';
import { Product } from './product.entity.js';

@InputType()
export class CreateProductInput {
  @Field(() => IdScalar)
  producerId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  sku!: string;

  @Field(() => String, { description: 'The unit quantities are counted in: kg, g, l, each, bunch, ...' })
  unit!: string;
}

@ObjectType({ simpleResolvers: true })
export class CreateProductPayload {
  @Field(() => Product, { nullable: true })
  product?: Product;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
