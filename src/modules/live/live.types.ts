import { Field, ObjectType } from 'type-graphql';
import { DateTimeScalar, DecimalScalar, IdScalar } from '../../graphql/scalars.js';

@ObjectType({ simpleResolvers: true, description: "A change to a producer's reservations, delivered after it committed." })
export class ReservationEvent {
  @Field(() => IdScalar, { description: 'Increases with every event; pass it as `after` to resume from here.' })
  id!: string;

  @Field(() => String, { description: 'HELD (a checkout), RELEASED (payment failed, hold expired, order or session cancelled) or COMPLETED (the session closed).' })
  kind!: string;

  @Field(() => DecimalScalar, { description: 'The change this event brought.' })
  quantity!: string;

  @Field(() => DateTimeScalar)
  at!: Date;

  producerOrderId!: string;
  productId!: string;
}

@ObjectType({ simpleResolvers: true, description: "An offer whose availability changed: a hold, release or stock change at any hub, or the hub adding, withdrawing or restoring the offer (an offer the storefront has not seen was added)." })
export class AvailabilityEvent {
  @Field(() => IdScalar, { description: 'Increases with every event; pass it as `after` to resume from here.' })
  id!: string;

  @Field(() => DecimalScalar, { description: "The product's availability after this change, under the offer's cap as it is when the event is delivered; 0 if by then the session has closed or was cancelled, or the offer was withdrawn (replayed events too)." })
  available!: string;

  @Field(() => DateTimeScalar)
  at!: Date;

  offerId!: string;
}

@ObjectType({ simpleResolvers: true, description: 'A fulfilment change (a lot released, a transfer, a swap, a shipment, a short fill), delivered after it committed.' })
export class FulfilmentEvent {
  @Field(() => IdScalar, { description: 'Positions are shared with reservation events: one stream, one `after`.' })
  id!: string;

  @Field(() => String, { description: 'LOT_RELEASED, TRANSFERRED, LOT_SWAPPED, SHIPPED or SHORT_FILLED.' })
  kind!: string;

  @Field(() => DecimalScalar, { description: 'The change: received, moved, swapped or shipped quantity, or what a customer line lost.' })
  quantity!: string;

  @Field(() => DateTimeScalar)
  at!: Date;

  @Field(() => IdScalar, { nullable: true, description: 'The customer order a short fill cut.' })
  customerOrderId!: string | null;

  productId!: string;
  producerOrderId!: string | null;
  locationId!: string | null;
  lotId!: string | null;
}
