import { Field, InputType, ObjectType } from 'type-graphql';
import { DecimalScalar, IdScalar } from '../../graphql/scalars.js';
import { UserError } from '../../graphql/user-error.js';
import { Product } from '../catalogue/product.entity.js';
import { CustomerOrder, type CustomerOrderView } from './customer-order.entity.js';
import type { WholesalePriceShare } from './producer-order.service.js';

@InputType()
export class CheckoutLineInput {
  @Field(() => IdScalar)
  offerId!: string;

  @Field(() => DecimalScalar)
  quantity!: string;
}

@InputType()
export class CheckoutInput {
  @Field(() => IdScalar)
  salesSessionId!: string;

  @Field(() => String, { description: "The hub's own reference for the customer." })
  customerRef!: string;

  @Field(() => [CheckoutLineInput])
  lines!: CheckoutLineInput[];

  @Field(() => String, {
    description: 'The same key and input again returns the first result; another input is IDEMPOTENCY_CONFLICT.',
  })
  idempotencyKey!: string;

  @Field(() => IdScalar, {
    nullable: true,
    description: "A changed basket: the same customer's pending order in this session that this one takes the place of. It is CANCELLED (replacedBy: this order) in the same transaction, its stock free for this basket; if this basket cannot be placed, it stands as it was.",
  })
  replacesCustomerOrderId?: string | null;
}

@InputType()
export class CustomerOrderRefInput {
  @Field(() => IdScalar)
  customerOrderId!: string;
}

@ObjectType({ simpleResolvers: true })
export class CheckoutPayload {
  @Field(() => CustomerOrder, { nullable: true })
  customerOrder?: CustomerOrderView;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class CustomerOrderPayload {
  @Field(() => CustomerOrder, { nullable: true })
  customerOrder?: CustomerOrderView;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true, description: 'A product and the quantity of it the producer order holds or commits.' })
export class ProducerOrderLine {
  @Field(() => Product)
  product!: Product;

  @Field(() => DecimalScalar)
  quantity!: string;

  /** Whose prices these are: read only by those who may read the producer's wholesale prices. */
  producerId!: string;

  /** The quantity by the wholesale price its customer lines kept from checkout (ProducerOrderService.lines()). */
  byWholesalePrice!: WholesalePriceShare[];
}
