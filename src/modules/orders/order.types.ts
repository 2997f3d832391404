import { Field, InputType, ObjectType } from 'type-graphql';
import { Money } from '../../graphql/money.js';
import { DecimalScalar, IdScalar } from '../../graphql/scalars.js';
import { UserError } from '../../graphql/user-error.js';
import { Product } from '../catalogue/product.entity.js';
import { CustomerOrder, type CustomerOrderView } from './customer-order.entity.js';

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

  @Field(() => Money, {
    nullable: true,
    description: "The producer's price to the hub for one unit, as it was when the customers checked out (Product.wholesalePrice then); null when they checked out at different prices (wholesaleTotal still adds them up) or the product had none.",
  })
  wholesalePrice!: Money | null;

  @Field(() => Money, {
    nullable: true,
    description: 'What the hub owes for the line: its quantity times the wholesale price it was checked out at (each price\'s share rounded half up to a whole minor unit); null when some of it was checked out without a wholesale price, or at prices in more than one currency.',
  })
  wholesaleTotal!: Money | null;
}
