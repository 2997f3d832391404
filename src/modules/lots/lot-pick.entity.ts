import { Check, Entity, Index, Property } from '@mikro-orm/core';
import { BaseEntity } from '../../shared/base.entity.js';

/**
 * A picker's choice of lot for a producer order line, which the suggestion then keeps. Written
 * when a picker swaps a suggested lot for another; removed when the order ships (the ledger then
 * records which lots left).
 */
@Entity()
@Index({ properties: ['producerOrderId', 'productId'] })
@Index({ properties: ['lotId'] })
@Check({ name: 'lot_pick_quantity_positive', expression: 'quantity > 0' })
export class LotPick extends BaseEntity {
  @Property({ type: 'uuid' })
  producerOrderId!: string;

  @Property({ type: 'uuid' })
  productId!: string;

  @Property({ type: 'uuid' })
  lotId!: string;

  @Property({ type: 'decimal', precision: 15, scale: 3 })
  quantity!: string;

  /** The suggested lot this one replaced, when the picker swapped it. */
  @Property({ type: 'uuid', nullable: true })
  replacedLotId?: string;
}
