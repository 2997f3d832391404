import { Check, Entity, ManyToOne, PrimaryKeyProp, Property } from '@mikro-orm/core';
import { Product } from '../catalogue/product.entity.js';
import { Location } from './location.entity.js';

/**
 * A product's stock at one location. Written only by StockService, always together with a
 * StockMovement, so the levels equal the sum of the ledger. The CHECKs make overselling impossible
 * even for a bug in code: a hold that would take `available` below zero fails in the database.
 * A product's stock is the sum over its locations.
 */
@Entity()
@Check({ name: 'stock_level_available_not_negative', expression: 'on_hand - held - committed >= 0' })
@Check({ name: 'stock_level_held_not_negative', expression: 'held >= 0' })
@Check({ name: 'stock_level_committed_not_negative', expression: 'committed >= 0' })
export class StockLevel {
  [PrimaryKeyProp]?: ['product', 'location'];

  @ManyToOne({ entity: () => Product, primary: true, deleteRule: 'cascade' })
  product: Product;

  @ManyToOne({ entity: () => Location, primary: true, deleteRule: 'cascade' })
  location: Location;

  @Property({ type: 'decimal', precision: 15, scale: 3, default: 0 })
  onHand: string = '0';

  /** Reserved by checkouts whose producer orders are still HELD. */
  @Property({ type: 'decimal', precision: 15, scale: 3, default: 0 })
  held: string = '0';

  /** In COMPLETE producer orders, not yet shipped. */
  @Property({ type: 'decimal', precision: 15, scale: 3, default: 0 })
  committed: string = '0';

  /**
   * The order a product's levels are locked in: every writer locks all of a product's levels by
   * this, so a level created while a writer holds the others (a new location) comes after them,
   * and that writer's later statements, which see it, still lock in order. Location ids are
   * random: a new one could sort first, and two writers deadlock on it.
   */
  @Property({ type: 'bigint', defaultRaw: 'stock_level_next_lock_seq()' })
  lockSeq?: string;

  constructor(product: Product, location: Location) {
    this.product = product;
    this.location = location;
  }
}
