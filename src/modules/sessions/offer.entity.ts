import { Check, Entity, Enum, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { LotGrade } from '../lots/lot.entity.js';
import { Field, Int, ObjectType } from 'type-graphql';
import { DecimalScalar } from '../../graphql/scalars.js';
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
@Check({ name: 'offer_cap_positive', expression: 'cap > 0' })
@Check({ name: 'offer_cap_not_exceeded', expression: 'taken <= cap' })
@Check({ name: 'offer_taken_not_negative', expression: 'taken >= 0' })
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

  /**
   * At most this much of the product may be checked out in this session (what the hub can take,
   * or its share of the producer's stock); none: as much as the producer has.
   */
  @Field(() => DecimalScalar, { nullable: true, description: 'At most this much of the product is sold in this session; null: as much as the producer has.' })
  @Property({ type: 'decimal', precision: 15, scale: 3, nullable: true })
  cap?: string;

  /**
   * What live customer orders (PENDING_PAYMENT or CONFIRMED) hold of a capped offer: raised as an
   * order is placed (place_customer_order()), lowered as it is released
   * (releaseOfferCaps(); releaseSessionCaps() when the session is cancelled). The CHECK above refuses a checkout past the cap even for a bug in code,
   * as stock levels refuse an oversell. Kept only while the offer is capped: capping it later
   * (updateOfferCap) counts what live orders hold then.
   */
  @Property({ type: 'decimal', precision: 15, scale: 3, defaultRaw: '0' })
  taken: string = '0';

  /**
   * When the hub took the offer off sale (withdrawOffer): it sells nothing more, and its
   * availability reads 0, until restoreOffer puts it back. Orders already placed keep their lines.
   */
  @Property({ type: 'datetime', nullable: true })
  withdrawnAt?: Date | null;

  constructor(salesSession: SalesSession, product: Product, priceAmount: number, priceCurrency: string) {
    super();
    this.salesSession = salesSession;
    this.product = product;
    this.priceAmount = priceAmount;
    this.priceCurrency = priceCurrency;
  }
}
