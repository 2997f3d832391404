import { Entity, Enum, Index, ManyToOne, PrimaryKey, Property } from '@mikro-orm/core';
import { Product } from '../catalogue/product.entity.js';

export enum StockMovementKind {
  /** A producer counted, harvested or wrote off stock. */
  ADJUST = 'ADJUST',
  /** A checkout reserved stock. */
  HOLD = 'HOLD',
  /** A payment failure, expiry or cancellation gave reserved stock back. */
  RELEASE = 'RELEASE',
  /** A session closed: reserved stock became committed to a complete producer order. */
  COMMIT = 'COMMIT',
}

/**
 * The append-only ledger of stock. Every change to a StockLevel is one row here, in the same
 * transaction, so `sum(deltas) = level` for each product at every commit.
 */
@Entity()
@Index({ properties: ['product', 'id'] })
export class StockMovement {
  @PrimaryKey({ type: 'bigint', autoincrement: true })
  id!: string;

  @ManyToOne({ entity: () => Product })
  product!: Product;

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

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
