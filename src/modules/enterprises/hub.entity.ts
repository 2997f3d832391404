import { Entity, Property } from '@mikro-orm/core';
import { Field, ObjectType } from 'type-graphql';
import { BaseEntity } from '../../shared/base.entity.js';

/** A food hub: runs sales sessions and sells its producers' stock to customers. */
@ObjectType({ simpleResolvers: true })
@Entity()
export class Hub extends BaseEntity {
  @Field(() => String)
  @Property({ type: 'string', length: 200 })
  name: string;

  constructor(name: string) {
    super();
    this.name = name;
  }
}
