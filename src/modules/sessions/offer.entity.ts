import { Check, Entity, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { ObjectType } from 'type-graphql';
import { BaseEntity } from '../../shared/base.entity.js';
import { Product } from '../catalogue/product.entity.js';
import { SalesSession } from './sales-session.entity.js';

/** A producer's product on sale in one session at the hub's price. */
@ObjectType({ simpleResolvers: true })
@Entity()
@Unique({ properties: ['salesSession', 'product'] })
@Index({ properties: ['product'] })
@Check({ name: 'offer_price_not_negative', expression: 'price_amount >= 0' })
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

  constructor(salesSession: SalesSession, product: Product, priceAmount: number, priceCurrency: string) {
    super();
    this.salesSession = salesSession;
    this.product = product;
    this.priceAmount = priceAmount;
    this.priceCurrency = priceCurrency;
  }
}
