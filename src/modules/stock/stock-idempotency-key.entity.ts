import { Entity, Enum, ManyToOne, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { Product } from '../catalogue/product.entity.js';
import { Producer } from '../enterprises/producer.entity.js';
import { StockMovementKind } from './stock-movement.entity.js';

/**
 * An idempotency key a producer sent with a stock write (adjustStock, transferStock), written in
 * the same transaction as the write's ledger rows: the key exists exactly when the write was made.
 * A table of its own rather than columns on stock_movement: the key belongs to the request, and a
 * transfer is two ledger rows, so on the ledger it would need a partial unique index over one of
 * them, and every hold, release and commit would carry two empty columns.
 */
@Entity()
export class StockIdempotencyKey {
  // Keys are scoped to the producer whose stock they change, as checkout's are to the hub: the
  // primary key is the unique index concurrent retries meet on (INSERT … ON CONFLICT DO NOTHING).
  [PrimaryKeyProp]?: ['producer', 'idempotencyKey'];

  @ManyToOne({ entity: () => Producer, primary: true })
  producer!: Producer;

  @Property({ type: 'string', length: 200, primary: true })
  idempotencyKey!: string;

  /** A digest of the request, to tell a retry from a different request with the same key. */
  @Property({ type: 'string', length: 64 })
  requestHash!: string;

  /** Which mutation used the key: adjustStock or transferStock. */
  @Enum({ items: [StockMovementKind.ADJUST, StockMovementKind.TRANSFER], type: 'string' })
  kind!: StockMovementKind;

  @ManyToOne({ entity: () => Product })
  product!: Product;

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
