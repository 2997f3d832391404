import { Check, Entity, Enum, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { LotGrade } from '../lots/lot.entity.js';
import { Field, Int, ObjectType } from 'type-graphql';
import { BaseEntity } from '../../shared/base.entity.js';
import { Product } from '../catalogue/product.entity.js';
import { SalesSession } from './sales-session.entity.js';

/** A producer's product on sale in one session at the hub's price. */
@ObjectType({ simpleResolvers: true })
@Entity()
@Unique({ properties: ['salesSession', 'product'] })
@Index({ properties: ['product'] })
@Check({ name: 'offer_price_not_negative', expression: 'price_amount >= 0' })
@Check({ name: 'offer_min_shelf_life_not_negative', expression: 'min_shelf_life_days >= 0' })
export class Offer extends BaseEntity {
  @ManyToOne({ entity: () => SalesSession })
  salesSession: SalesSession;

  @ManyToOne({ entity: () => Product })
  product: Product;

  /** In minor units (cents) of `priceCurrency`. */
  @Property({ type: 'integer' })
  priceAmount: number;

  @Property({ type: 'string', length: 3 })
  priceCurrency: string;

  /** Lots picked for this offer must be at least this grade. */
  @Field(() => LotGrade, { nullable: true, description: 'Lots picked for this offer are at least this grade.' })
  @Enum({ items: () => LotGrade, type: 'string', nullable: true })
  minGrade?: LotGrade;

  /** Where the trader listed it in the session, from 0: storefronts show the offers in this order. */
  @Property({ type: 'integer', default: 0 })
  position = 0;

  /** Lots picked for this offer must keep at least this many days before best-before, counted from delivery. */
  @Field(() => Int, { nullable: true, description: 'Lots picked for this offer have at least this many days before best-before at delivery.' })
  @Property({ type: 'integer', nullable: true })
  minShelfLifeDays?: number;

  constructor(salesSession: SalesSession, product: Product, priceAmount: number, priceCurrency: string) {
    super();
    this.salesSession = salesSession;
    this.product = product;
    this.priceAmount = priceAmount;
    this.priceCurrency = priceCurrency;
  }
}
