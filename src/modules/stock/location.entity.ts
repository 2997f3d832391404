import { Check, Entity, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { Field, Int, ObjectType } from 'type-graphql';
import { BaseEntity } from '../../shared/base.entity.js';
import { Producer } from '../enterprises/producer.entity.js';

/**
 * A place a producer keeps stock: the farm, a cold store, a partner depot. Every producer has at
 * least one (made with the producer), and every product has a stock level at each of them.
 */
@ObjectType({ simpleResolvers: true })
@Entity()
@Unique({ properties: ['producer', 'name'] })
@Index({ properties: ['producer', 'priority'] })
@Check({ name: 'location_priority_positive', expression: 'priority > 0' })
export class Location extends BaseEntity {
  @ManyToOne({ entity: () => Producer })
  producer: Producer;

  @Field(() => String)
  @Property({ type: 'string', length: 200 })
  name: string;

  @Field(() => Int, { description: '1 is the first choice: holds take stock from lower numbers first.' })
  @Property({ type: 'integer' })
  priority: number;

  /**
   * A digest of the createLocation request that made it, so that request sent again is known
   * after the location was given another priority. Null for locations made before it was kept.
   */
  @Property({ type: 'string', length: 64, nullable: true })
  creationHash?: string;

  constructor(producer: Producer, name: string, priority: number) {
    super();
    this.producer = producer;
    this.name = name;
    this.priority = priority;
  }
}
