import { ArrayType, Entity, Index, PrimaryKey, Property } from '@mikro-orm/core';
import { Field, ObjectType } from 'type-graphql';
import { IdScalar } from '../../graphql/scalars.js';
import { BaseEntity } from '../../shared/base.entity.js';

/** A trader platform's endpoint that receives events as signed HTTP POSTs. */
@ObjectType({ simpleResolvers: true })
@Entity()
export class Webhook extends BaseEntity {
  @Field(() => String)
  @Property({ type: 'string', length: 2000 })
  url!: string;

  /** Event kinds to send (EventKind). */
  @Field(() => [String])
  @Property({ type: ArrayType })
  kinds!: string[];

  /** Only this producer's events, when set. */
  @Field(() => IdScalar, { nullable: true, description: "Only this producer's events, when set." })
  @Property({ type: 'uuid', nullable: true })
  producerId?: string;

  /** Only events of this hub's producer orders, when set. */
  @Field(() => IdScalar, { nullable: true, description: "Only events of this hub's producer orders, when set." })
  @Property({ type: 'uuid', nullable: true })
  hubId?: string;

  /** The HMAC-SHA256 key; shown once, at registration. */
  @Property({ type: 'string', length: 200, hidden: true })
  secret!: string;

  @Field(() => Boolean)
  @Property({ type: 'boolean', default: true })
  active: boolean = true;
}

export enum DeliveryStatus {
  PENDING = 'PENDING',
  DELIVERED = 'DELIVERED',
}

/**
 * One event to send to one webhook, kept in PostgreSQL until the receiver accepts it, so a restart
 * loses none. Deliveries with the same ordering key (the producer order) go out one at a time, in order.
 */
@Entity()
@Index({
  name: 'webhook_delivery_due',
  expression: `create index "webhook_delivery_due" on "webhook_delivery" ("next_attempt_at") where "status" = 'PENDING'`,
})
@Index({ properties: ['webhookId', 'orderingKey', 'id'] })
// A claim walks each webhook's pending deliveries in order and stops at its share (claim()).
@Index({
  name: 'webhook_delivery_pending_by_webhook',
  expression: `create index "webhook_delivery_pending_by_webhook" on "webhook_delivery" ("webhook_id", "id") where "status" = 'PENDING'`,
})
// Retention finds the old delivered history without reading every delivery.
@Index({
  name: 'webhook_delivery_delivered_created_at',
  expression: `create index "webhook_delivery_delivered_created_at" on "webhook_delivery" ("created_at") where "status" = 'DELIVERED'`,
})
export class WebhookDelivery {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'uuid' })
  webhookId!: string;

  @Property({ type: 'bigint' })
  eventPosition!: string;

  @Property({ type: 'uuid' })
  orderingKey!: string;

  /** The JSON body sent, fixed when the delivery is created. */
  @Property({ type: 'text' })
  body!: string;

  @Property({ type: 'string', length: 16 })
  status!: DeliveryStatus;

  @Property({ type: 'integer', default: 0 })
  attemptCount: number = 0;

  @Property({ type: 'datetime' })
  nextAttemptAt!: Date;

  /**
   * While a replica is sending it: until when the claim holds. Read against the database's clock,
   * not a replica's, so a replica whose clock is off cannot take a delivery another one is sending.
   */
  @Property({ type: 'datetime', nullable: true })
  claimedUntil?: Date;

  @Property({ type: 'datetime', nullable: true })
  deliveredAt?: Date;

  @Property({ type: 'datetime' })
  createdAt!: Date;
}

/** One try at a delivery, kept so a trader platform can see what we sent and what it answered. */
@Entity()
@Index({ properties: ['deliveryId', 'id'] })
export class WebhookAttempt {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @Property({ type: 'bigint' })
  deliveryId!: string;

  @Property({ type: 'datetime' })
  attemptedAt!: Date;

  @Property({ type: 'integer', nullable: true })
  statusCode?: number;

  @Property({ type: 'string', length: 500, nullable: true })
  error?: string;
}
