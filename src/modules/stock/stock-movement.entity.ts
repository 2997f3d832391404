import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { registerEnumType } from 'type-graphql';
import { Product } from '../catalogue/product.entity.js';
import { Location } from './location.entity.js';

export enum StockMovementKind {
  /** A producer counted, harvested or wrote off stock. */
  ADJUST = 'ADJUST',
  /** A checkout reserved stock. */
  HOLD = 'HOLD',
  /** A payment failure, expiry or cancellation gave reserved stock back. */
  RELEASE = 'RELEASE',
  /** A session closed: reserved stock became committed to a complete producer order. */
  COMMIT = 'COMMIT',
  /** A lot passed its checks: its quantity joined the stock on hand. */
  RECEIVE = 'RECEIVE',
  /** Stock moved from one location to another. */
  TRANSFER = 'TRANSFER',
  /** A producer order was shipped: its commitment ended, and what left the door left stock on hand. */
  SHIP = 'SHIP',
}

registerEnumType(StockMovementKind, { name: 'StockMovementKind', description: 'What changed a stock level: one row of its ledger.' });

/**
 * The append-only ledger of stock. Every change to a StockLevel is one row here, in the same
 * transaction, so `sum(deltas) = level` for each product and location at every commit.
 */
@Entity()
@Index({ properties: ['product', 'id'] })
// What a customer order holds where, and what a producer order committed where, are read from here.
@Index({ properties: ['customerOrderId'] })
@Index({ properties: ['producerOrderId'] })
export class StockMovement {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne({ entity: () => Product })
  product!: Product;

  @ManyToOne({ entity: () => Location })
  location!: Location;

  /** The lot the stock came from or went to, when it is tracked in lots. */
  @Property({ type: 'uuid', nullable: true })
  lotId?: string;

  @Enum({ items: () => StockMovementKind, type: 'string' })
  kind!: StockMovementKind;

  @Property({ type: 'decimal', precision: 15, scale: 3, default: 0 })
  onHandDelta: string = '0';

  @Property({ type: 'decimal', precision: 15, scale: 3, default: 0 })
  heldDelta: string = '0';

  @Property({ type: 'decimal', precision: 15, scale: 3, default: 0 })
  committedDelta: string = '0';

  @Property({ type: 'uuid', nullable: true })
  customerOrderId?: string;

  @Property({ type: 'uuid', nullable: true })
  producerOrderId?: string;

  @Property({ type: 'string', length: 500, nullable: true })
  reason?: string;

  /**
   * The level is changed by this row's trigger at COMMIT (a checkout's hold), not by the
   * statement that wrote it: see StockService.planHold().
   */
  @Property({ type: 'boolean', default: false })
  appliedAtCommit: boolean = false;

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
