import { Entity, Property } from '@mikro-orm/core';
import { Field, ObjectType } from 'type-graphql';
import { BaseEntity } from '../../shared/base.entity.js';

/** A farm, bakery or dairy that sells its products through one or more hubs. */
@ObjectType({ simpleResolvers: true })
@Entity()
export class Producer extends BaseEntity {
  @Field(() => String)
  @Property({ type: 'string', length: 200 })
  name: string;

  constructor(name: string) {
    super();
    this.name = name;
  }
}
