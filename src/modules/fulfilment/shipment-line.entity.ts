import { Check, Entity, PrimaryKeyProp, Property } from '@mikro-orm/core';

/**
 * What really left the door for one product of a shipped producer order. numeric(20,3), like the
 * event log: one product's order adds up the holds on all its locations, each up to numeric(15,3).
 */
@Entity()
@Check({ name: 'shipment_line_quantity_not_negative', expression: 'quantity >= 0' })
export class ShipmentLine {
  [PrimaryKeyProp]?: ['producerOrderId', 'productId'];

  @Property({ type: 'uuid', primary: true })
  producerOrderId!: string;

  @Property({ type: 'uuid', primary: true })
  productId!: string;

  /** What was ordered (the committed quantity) when it shipped. */
  @Property({ type: 'decimal', precision: 20, scale: 3 })
  ordered!: string;

  @Property({ type: 'decimal', precision: 20, scale: 3 })
  quantity!: string;

  /** For weighed goods: the actual weight, in kg. */
  @Property({ type: 'decimal', precision: 20, scale: 3, nullable: true })
  weightKg?: string;
}
