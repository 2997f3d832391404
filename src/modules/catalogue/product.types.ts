import { Field, InputType, ObjectType } from 'type-graphql';
import { MoneyInput } from '../../graphql/money.js';
import { DecimalScalar, IdScalar } from '../../graphql/scalars.js';
import { UserError } from '../../graphql/user-error.js';
import { Product } from './product.entity.js';

/** Read and written in the same shape: one class for the output type and its input. */
@ObjectType('ProductDimensions', { simpleResolvers: true, description: 'Of one unit, packed, in centimetres.' })
@InputType('ProductDimensionsInput')
export class ProductDimensions {
  @Field(() => DecimalScalar)
  lengthCm!: string;

  @Field(() => DecimalScalar)
  widthCm!: string;

  @Field(() => DecimalScalar)
  heightCm!: string;
}

/** The details shared by creating and updating a product (product-details.ts checks them). */
@InputType()
abstract class ProductDetailsInput {
  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, { nullable: true, description: 'GTIN-8, -12 (UPC-A), -13 (EAN) or -14, digits only, with its check digit.' })
  gtin?: string | null;

  @Field(() => DecimalScalar, { nullable: true, description: 'The smallest quantity sold; checkout lines must be whole multiples of it. Default 0.001 (any quantity).' })
  sellableStep?: string | null;

  @Field(() => DecimalScalar, { nullable: true, description: 'What one unit weighs, in kg.' })
  netWeightKg?: string | null;

  @Field(() => ProductDimensions, { nullable: true })
  dimensions?: ProductDimensions | null;

  @Field(() => MoneyInput, { nullable: true, description: "The producer's price to hubs for one unit." })
  wholesalePrice?: MoneyInput | null;
}

@InputType()
export class CreateProductInput extends ProductDetailsInput {
  @Field(() => IdScalar)
  producerId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String)
  sku!: string;

  @Field(() => String, { description: 'The unit quantities are counted in: kg, g, l, each, bunch, ...' })
  unit!: string;
}

@InputType({ description: 'A field left out stays as it is; null clears an optional detail (name, sku and sellableStep cannot be cleared). The unit cannot change: stock is counted in it.' })
export class UpdateProductInput extends ProductDetailsInput {
  @Field(() => IdScalar)
  productId!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => String, { nullable: true })
  sku?: string | null;
}

@ObjectType({ simpleResolvers: true })
export class CreateProductPayload {
  @Field(() => Product, { nullable: true })
  product?: Product;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class UpdateProductPayload {
  @Field(() => Product, { nullable: true })
  product?: Product;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
