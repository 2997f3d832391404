import { Entity, Enum, Index, ManyToOne, Property, Unique } from '@mikro-orm/core';
import { Field, ObjectType } from 'type-graphql';
import { BaseEntity } from '../../shared/base.entity.js';
import { Hub } from '../enterprises/hub.entity.js';
import { Producer } from '../enterprises/producer.entity.js';
import { SalesSession } from '../sessions/sales-session.entity.js';
import { FulfilmentState, OrderState } from './order-states.js';

/**
 * The DFC Order between a hub and a producer for one session. Its lines are not stored: they
 * are the sum of the live customer order lines that point at it, so they can never drift.
 */
@ObjectType({ simpleResolvers: true })
@Entity()
// A producer's orders and a hub's, oldest first, a page at a time (producerOrders(after:)).
@Index({ name: 'producer_order_producer_created', properties: ['producer', 'createdAt', 'id'] })
@Index({ name: 'producer_order_hub_created', properties: ['hub', 'createdAt', 'id'] })
@Unique({ properties: ['salesSession', 'producer'] })
export class ProducerOrder extends BaseEntity {
  @ManyToOne({ entity: () => SalesSession })
  salesSession!: SalesSession;

  @ManyToOne({ entity: () => Producer })
  producer!: Producer;

  @ManyToOne({ entity: () => Hub })
  hub!: Hub;

  @Field(() => OrderState)
  @Enum({ items: () => OrderState, type: 'string' })
  orderState: OrderState = OrderState.HELD;

  @Field(() => FulfilmentState)
  @Enum({ items: () => FulfilmentState, type: 'string' })
  fulfilmentState: FulfilmentState = FulfilmentState.HELD;

  @Property({ type: 'datetime', nullable: true })
  completedAt?: Date;

  @Property({ type: 'datetime', nullable: true })
  shippedAt?: Date;

  @Field(() => String, { nullable: true })
  @Property({ type: 'string', length: 100, nullable: true })
  carrier?: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'string', length: 200, nullable: true })
  trackingReference?: string;

  /** A digest of the shipment as it was asked for, to tell its retry from another shipment. */
  @Property({ type: 'string', length: 64, nullable: true })
  shipmentRequestHash?: string;
}
