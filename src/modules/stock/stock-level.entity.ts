import { Check, Entity, OneToOne, Property } from '@mikro-orm/core';
import { Product } from '../catalogue/product.entity.js';

/**
 * A product's stock. Written only by StockService, always together with a StockMovement, so the
 * levels equal the sum of the ledger. The CHECKs make overselling impossible even for a bug in
 * code: a hold that would take `available` below zero fails in the database.
 */
@Entity()
@Check({ name: 'stock_level_available_not_negative', expression: 'on_hand - held - committed >= 0' })
@Check({ name: 'stock_level_held_not_negative', expression: 'held >= 0' })
@Check({ name: 'stock_level_committed_not_negative', expression: 'committed >= 0' })
export class StockLevel {
  @OneToOne({ entity: () => Product, primary: true, owner: true, deleteRule: 'cascade' })
  product: Product;

  @Property({ type: 'decimal', precision: 15, scale: 3, default: 0 })
  onHand: string = '0';

  /** Reserved by checkouts whose producer orders are still HELD. */
  @Property({ type: 'decimal', precision: 15, scale: 3, default: 0 })
  held: string = '0';

  /** In COMPLETE producer orders, not yet shipped. */
  @Property({ type: 'decimal', precision: 15, scale: 3, default: 0 })
  committed: string = '0';

  constructor(product: Product) {
    this.product = product;
  }
}
