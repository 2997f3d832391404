import { Entity, PrimaryKeyProp, Property } from '@mikro-orm/core';

/**
 * What a hub tells the platform about one of its customers. Priority customers (a care home, a
 * school) keep their orders whole when a producer ships short, as long as anyone else can give way.
 */
@Entity()
export class HubCustomer {
  [PrimaryKeyProp]?: ['hubId', 'customerRef'];

  @Property({ type: 'uuid', primary: true })
  hubId!: string;

  @Property({ type: 'string', length: 200, primary: true })
  customerRef!: string;

  @Property({ type: 'boolean', default: false })
  priority: boolean = false;

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  updatedAt: Date = new Date();
}
