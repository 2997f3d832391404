import { Entity, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { Field, ObjectType } from 'type-graphql';
import { BaseEntity } from '../../shared/base.entity.js';
import { Producer } from '../enterprises/producer.entity.js';

@ObjectType({ simpleResolvers: true })
@Entity()
@Index({ properties: ['producer', 'name'] })
@Unique({ properties: ['producer', 'sku'] })
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

  constructor(producer: Producer, name: string, sku: string, unit: string) {
    super();
    this.producer = producer;
    this.name = name;
    this.sku = sku;
    this.unit = unit;
  }
}
