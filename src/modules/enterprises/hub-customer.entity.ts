import { Entity, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { Field, ObjectType } from 'type-graphql';

/**
 * What a hub tells the platform about one of its customers. Priority customers (a care home, a
 * school) keep their orders whole when a producer ships short, as long as anyone else can give way.
 */
@ObjectType({ simpleResolvers: true, description: "A hub's customer, as the hub describes them to the platform." })
@Entity()
export class HubCustomer {
  [PrimaryKeyProp]?: ['hubId', 'customerRef'];

  @Property({ type: 'uuid', primary: true })
  hubId!: string;

  @Field(() => String)
  @Property({ type: 'string', length: 200, primary: true })
  customerRef!: string;

  @Field(() => Boolean, { description: 'Protected in short fills: loses only after every other customer.' })
  @Property({ type: 'boolean', default: false })
  priority: boolean = false;

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  updatedAt: Date = new Date();
}
