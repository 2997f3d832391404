import { Check, Entity, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { Field, ObjectType } from 'type-graphql';
import { DecimalScalar } from '../../graphql/scalars.js';
import { BaseEntity } from '../../shared/base.entity.js';
import { Producer } from '../enterprises/producer.entity.js';
import { DEFAULT_SELLABLE_STEP } from './product-details.js';

@ObjectType({ simpleResolvers: true })
@Entity()
// Producer.products pages oldest first (producerProducts()).
@Index({ properties: ['producer', 'createdAt', 'id'] })
@Unique({ properties: ['producer', 'sku'] })
@Check({ name: 'product_sellable_step_positive', expression: 'sellable_step > 0' })
@Check({ name: 'product_net_weight_positive', expression: 'net_weight_kg > 0' })
@Check({
  name: 'product_dimensions_whole',
  expression: '(length_cm IS NULL) = (width_cm IS NULL) AND (width_cm IS NULL) = (height_cm IS NULL) AND least(length_cm, width_cm, height_cm) > 0',
})
@Check({ name: 'product_wholesale_price_whole', expression: '(wholesale_price_amount IS NULL) = (wholesale_price_currency IS NULL) AND wholesale_price_amount >= 0' })
export class Product extends BaseEntity {
  @ManyToOne({ entity: () => Producer })
  producer: Producer;

  @Field(() => String)
  @Property({ type: 'string', length: 200 })
  name: string;

  @Field(() => String)
  @Property({ type: 'string', length: 100 })
  sku: string;

  /** kg, g, l, each, bunch, ...: the unit its quantities are counted in. */
  @Field(() => String)
  @Property({ type: 'string', length: 20 })
  unit: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  description?: string | null;

  /** The GS1 trade item number on its label (GTIN-8, UPC-A as GTIN-12, EAN-13 or GTIN-14), digits only. */
  @Field(() => String, { nullable: true, description: 'GTIN-8, -12 (UPC-A), -13 (EAN) or -14, digits only, check digit verified.' })
  @Property({ type: 'string', length: 14, nullable: true })
  gtin?: string | null;

  /** Customers check out whole multiples of it: 0.5 sells half kilos, 1 whole items. */
  @Field(() => DecimalScalar, { description: 'The smallest quantity sold: every checkout line is a whole multiple of it (0.001 unless the producer set one).' })
  @Property({ type: 'decimal', precision: 15, scale: 3, defaultRaw: '0.001' })
  sellableStep: string = DEFAULT_SELLABLE_STEP;

  /** What one unit weighs, for the carrier; for a product sold by weight it is simply 1 kg. */
  @Field(() => DecimalScalar, { nullable: true, description: 'What one unit weighs, in kg.' })
  @Property({ type: 'decimal', precision: 15, scale: 3, nullable: true })
  netWeightKg?: string | null;

  /** Of one unit, packed; all three or none (a CHECK). Read as `dimensions`. */
  @Property({ type: 'decimal', precision: 15, scale: 3, nullable: true })
  lengthCm?: string | null;

  @Property({ type: 'decimal', precision: 15, scale: 3, nullable: true })
  widthCm?: string | null;

  @Property({ type: 'decimal', precision: 15, scale: 3, nullable: true })
  heightCm?: string | null;

  /** The producer's price to hubs per unit, in minor units; read as `wholesalePrice`, by hubs and the producer. */
  @Property({ type: 'integer', nullable: true })
  wholesalePriceAmount?: number | null;

  @Property({ type: 'string', length: 3, nullable: true })
  wholesalePriceCurrency?: string | null;

  /**
   * A digest of the createProduct request that made it, so that request sent again is known
   * after updateProduct changed the product. Null for products made before it was kept.
   */
  @Property({ type: 'string', length: 64, nullable: true })
  creationHash?: string;

  constructor(producer: Producer, name: string, sku: string, unit: string) {
    super();
    this.producer = producer;
    this.name = name;
    this.sku = sku;
    this.unit = unit;
  }
}
