import { Check, Entity, Index, ManyToOne, Property } from '@mikro-orm/core';
import { Field, ObjectType } from 'type-graphql';
import { DecimalScalar } from '../../graphql/scalars.js';
import { BaseEntity } from '../../shared/base.entity.js';
import { Product } from '../catalogue/product.entity.js';
import { Offer } from '../sessions/offer.entity.js';
import { CustomerOrder } from './customer-order.entity.js';
import { ProducerOrder } from './producer-order.entity.js';

/** One offer in a customer's basket, and the producer order whose stock it holds. */
@ObjectType({ simpleResolvers: true })
@Entity()
@Index({ properties: ['customerOrder'] })
@Index({ properties: ['producerOrder', 'product'] })
@Check({ name: 'customer_order_line_quantity_positive', expression: 'quantity > 0' })
@Check({ name: 'customer_order_line_wholesale_price_whole', expression: '(wholesale_price_amount IS NULL) = (wholesale_currency IS NULL) AND wholesale_price_amount >= 0' })
export class CustomerOrderLine extends BaseEntity {
  @ManyToOne({ entity: () => CustomerOrder })
  customerOrder!: CustomerOrder;

  @ManyToOne({ entity: () => Offer })
  offer!: Offer;

  @ManyToOne({ entity: () => Product })
  product!: Product;

  @ManyToOne({ entity: () => ProducerOrder })
  producerOrder!: ProducerOrder;

  @Property({ type: 'decimal', precision: 15, scale: 3 })
  quantity!: string;

  /** The offer's price when the customer checked out, in minor units. */
  @Property({ type: 'integer' })
  unitPriceAmount!: number;

  @Property({ type: 'string', length: 3 })
  currency!: string;

  /**
   * The producer's price to the hub for one unit when the customer checked out
   * (Product.wholesalePrice), in minor units: what the hub owes for this line, whatever the
   * producer's price later. Null when the product had none.
   */
  @Property({ type: 'integer', nullable: true })
  wholesalePriceAmount?: number | null;

  @Property({ type: 'string', length: 3, nullable: true })
  wholesaleCurrency?: string | null;

  /** What the customer really gets, set when the producer order ships (less than `quantity` after a short fill). */
  @Field(() => DecimalScalar, { nullable: true, description: 'What the customer really gets, once the producer order shipped: less than quantity after a short fill.' })
  @Property({ type: 'decimal', precision: 15, scale: 3, nullable: true })
  fulfilledQuantity?: string;
}
