import { Entity, Index, PrimaryKeyProp, Property } from '@mikro-orm/core';

/**
 * A producer's consent that a hub may offer its products in the hub's sessions. A producer sells
 * through the hubs it chooses: without this, any hub could put its stock on sale, and the producer
 * would have to hold, pack and ship for it.
 */
@Entity()
@Index({ properties: ['hubId'] })
export class HubApproval {
  [PrimaryKeyProp]?: ['producerId', 'hubId'];

  @Property({ type: 'uuid', primary: true })
  producerId!: string;

  @Property({ type: 'uuid', primary: true })
  hubId!: string;

  /** Written by hub-approvals.ts, as the clock reads. */
  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt!: Date;
}
