import { Check, Entity, Enum, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { DecimalScalar } from '../../graphql/scalars.js';
import { BaseEntity } from '../../shared/base.entity.js';
import { Product } from '../catalogue/product.entity.js';
import { Location } from '../stock/location.entity.js';

export enum LotStatus {
  /** Received, waiting for its checks: not yet part of the stock on hand, never picked. */
  QUARANTINE = 'QUARANTINE',
  /** Checked: its quantity is stock on hand, available to sell and to pick. */
  RELEASED = 'RELEASED',
}

export enum LotKind {
  /** A harvest or production batch: picked in any quantity up to what is left. */
  BATCH = 'BATCH',
  /** A single unique item (a wheel of cheese, a lamb): picked whole or not at all. */
  ITEM = 'ITEM',
}

/** Quality grades, best first (the EU marketing standard classes for fresh produce). */
export enum LotGrade {
  EXTRA = 'EXTRA',
  CLASS_I = 'CLASS_I',
  CLASS_II = 'CLASS_II',
}

registerEnumType(LotStatus, { name: 'LotStatus' });
registerEnumType(LotKind, { name: 'LotKind' });
registerEnumType(LotGrade, { name: 'LotGrade', description: 'Quality grades, best first: EXTRA, CLASS_I, CLASS_II.' });

/**
 * A batch or a unique item of a product at a location. A released lot's quantity is part of the
 * stock on hand at its location; `quantity` is what is left of it, and goes down as it ships.
 */
@ObjectType({ simpleResolvers: true })
@Entity()
@Unique({ properties: ['product', 'code'] })
@Index({ properties: ['product', 'status'] })
@Check({ name: 'lot_quantity_not_negative', expression: 'quantity >= 0' })
export class Lot extends BaseEntity {
  @ManyToOne({ entity: () => Product })
  product: Product;

  @ManyToOne({ entity: () => Location })
  location: Location;

  @Field(() => String, { description: "The producer's own reference: a batch number, an ear tag." })
  @Property({ type: 'string', length: 100 })
  code: string;

  @Field(() => LotKind)
  @Enum({ items: () => LotKind, type: 'string' })
  kind: LotKind;

  @Field(() => DecimalScalar, { description: 'What is left of the lot, in the product unit.' })
  @Property({ type: 'decimal', precision: 15, scale: 3 })
  quantity: string;

  @Field(() => String, { nullable: true, description: 'ISO date (YYYY-MM-DD).' })
  @Property({ type: 'date', nullable: true })
  harvestedOn?: string;

  @Field(() => String, { nullable: true, description: 'ISO date (YYYY-MM-DD).' })
  @Property({ type: 'date', nullable: true })
  bestBefore?: string;

  @Field(() => LotGrade)
  @Enum({ items: () => LotGrade, type: 'string' })
  grade: LotGrade;

  @Field(() => LotStatus)
  @Enum({ items: () => LotStatus, type: 'string' })
  status: LotStatus = LotStatus.QUARANTINE;

  @Property({ type: 'datetime', nullable: true })
  releasedAt?: Date;

  /**
   * A digest of the receiveLot request that made the lot, so that request sent again is known
   * whatever has become of the lot since. Null for lots received before it was kept.
   */
  @Property({ type: 'string', length: 64, nullable: true })
  receiptHash?: string;

  constructor(product: Product, location: Location, fields: { code: string; kind: LotKind; quantity: string; grade: LotGrade }) {
    super();
    this.product = product;
    this.location = location;
    this.code = fields.code;
    this.kind = fields.kind;
    this.quantity = fields.quantity;
    this.grade = fields.grade;
  }
}
