import type { DateTime } from 'luxon';
import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { DateTimeScalar, DecimalScalar, IdScalar } from '../../graphql/scalars.js';
import { UserError } from '../../graphql/user-error.js';
import { Product } from '../catalogue/product.entity.js';
import { Hub } from '../enterprises/hub.entity.js';
import { HubCustomer } from '../enterprises/hub-customer.entity.js';
import { Producer } from '../enterprises/producer.entity.js';
import { Lot, LotGrade } from '../lots/lot.entity.js';
import { CustomerOrder } from '../orders/customer-order.entity.js';
import { ProducerOrder } from '../orders/producer-order.entity.js';
import { Location } from '../stock/location.entity.js';

@ObjectType({ simpleResolvers: true, description: 'What the lots picked for a line must meet; null fields ask nothing.' })
export class LotCriteriaView {
  @Field(() => LotGrade, { nullable: true })
  minGrade!: LotGrade | null;

  @Field(() => Int, { nullable: true, description: 'Days before best-before, counted from the delivery day.' })
  minShelfLifeDays!: number | null;
}

@ObjectType({ simpleResolvers: true, description: 'A lot to pick from, and how much.' })
export class LotPickView {
  @Field(() => Lot)
  lot!: Lot;

  @Field(() => Location)
  location!: Location;

  @Field(() => DecimalScalar)
  quantity!: string;

  @Field(() => Boolean, { description: 'Chosen by a picker (a swap) rather than suggested.' })
  pinned!: boolean;

  @Field(() => Lot, { nullable: true, description: 'The suggested lot this one replaced.' })
  replacedLot!: Lot | null;
}

@ObjectType({ simpleResolvers: true, description: 'Stock not tracked in lots, picked at a location.' })
export class LocationQuantity {
  @Field(() => Location)
  location!: Location;

  @Field(() => DecimalScalar)
  quantity!: string;
}

@ObjectType({ simpleResolvers: true, description: 'A line of a producer order with the lots suggested for it, beside its criteria.' })
export class PickLine {
  @Field(() => Product)
  product!: Product;

  @Field(() => DecimalScalar)
  quantity!: string;

  @Field(() => LotCriteriaView)
  criteria!: LotCriteriaView;

  @Field(() => String, { description: 'The delivery day the shelf life is counted from (YYYY-MM-DD).' })
  deliveryDay!: string;

  @Field(() => [LotPickView], { description: 'Released lots meeting the criteria, earliest best-before first.' })
  lots!: LotPickView[];

  @Field(() => [LocationQuantity], { description: 'What no lot covers: from stock kept outside lots.' })
  untracked!: LocationQuantity[];

  @Field(() => DecimalScalar, {
    description: 'What neither a lot that meets the criteria nor stock kept outside lots covers: it cannot ship as things stand (ship less, or receive stock).',
  })
  short!: string;
}

@ObjectType({ simpleResolvers: true, description: 'One product to pick: the total, and from which lots and locations.' })
export class PickItem {
  @Field(() => Product)
  product!: Product;

  @Field(() => DecimalScalar)
  quantity!: string;

  @Field(() => [LotPickView])
  lots!: LotPickView[];

  @Field(() => [LocationQuantity])
  untracked!: LocationQuantity[];

  @Field(() => DecimalScalar, { description: 'Ordered, but covered neither by a lot that meets the criteria nor by stock kept outside lots: nothing to pick (always 0 in a zone).' })
  short!: string;
}

@ObjectType({ simpleResolvers: true, description: 'What to pick at one location.' })
export class PickZone {
  @Field(() => Location)
  location!: Location;

  @Field(() => [PickItem])
  items!: PickItem[];
}

@ObjectType({ simpleResolvers: true, description: "What to pick for one hub's delivery." })
export class PickWave {
  @Field(() => DateTimeScalar, { description: "In the session's time zone." })
  deliversAt!: DateTime;

  @Field(() => Hub)
  hub!: Hub;

  @Field(() => [ProducerOrder])
  producerOrders!: ProducerOrder[];

  @Field(() => [PickItem])
  items!: PickItem[];
}

@ObjectType({ simpleResolvers: true, description: "A producer's picking for one delivery day, over every hub and session delivering that day." })
export class PickList {
  @Field(() => Producer)
  producer!: Producer;

  @Field(() => String)
  deliveryDay!: string;

  @Field(() => [PickItem], { description: 'The batch view: each product once.' })
  items!: PickItem[];

  @Field(() => [PickZone], { description: 'The zone view: by location, first choice first.' })
  zones!: PickZone[];

  @Field(() => [PickWave], { description: 'Waves: by hub delivery time.' })
  waves!: PickWave[];
}

@ObjectType({ simpleResolvers: true })
export class PackListLine {
  @Field(() => Product)
  product!: Product;

  @Field(() => DecimalScalar)
  quantity!: string;

  @Field(() => DecimalScalar, { nullable: true, description: 'What the customer really gets; null until the order ships.' })
  fulfilledQuantity!: string | null;
}

@ObjectType({ simpleResolvers: true })
export class PackListCustomer {
  @Field(() => String)
  customerRef!: string;

  @Field(() => CustomerOrder)
  customerOrder!: CustomerOrder;

  @Field(() => Boolean)
  priority!: boolean;

  @Field(() => [PackListLine])
  lines!: PackListLine[];
}

@ObjectType({ simpleResolvers: true, description: "One hub's consignment from a producer, split by customer." })
export class PackListHub {
  @Field(() => Hub)
  hub!: Hub;

  @Field(() => ProducerOrder)
  producerOrder!: ProducerOrder;

  @Field(() => DateTimeScalar, { description: "In the session's time zone." })
  deliversAt!: DateTime;

  @Field(() => [PackListCustomer])
  customers!: PackListCustomer[];
}

@ObjectType({ simpleResolvers: true, description: 'What really shipped of one product.' })
export class ShipmentLineView {
  @Field(() => Product)
  product!: Product;

  @Field(() => DecimalScalar)
  ordered!: string;

  @Field(() => DecimalScalar)
  quantity!: string;

  @Field(() => DecimalScalar, { nullable: true })
  weightKg!: string | null;
}

@InputType()
export class SwapLotInput {
  @Field(() => IdScalar)
  producerOrderId!: string;

  @Field(() => IdScalar)
  productId!: string;

  @Field(() => IdScalar)
  fromLotId!: string;

  @Field(() => IdScalar)
  toLotId!: string;
}

@InputType()
export class ShipLotInput {
  @Field(() => IdScalar)
  lotId!: string;

  @Field(() => DecimalScalar)
  quantity!: string;
}

@InputType()
export class ShipLineInput {
  @Field(() => IdScalar)
  productId!: string;

  @Field(() => DecimalScalar, { description: 'What really ships; less than ordered is a short fill, 0 sends none.' })
  quantity!: string;

  @Field(() => DecimalScalar, { nullable: true, description: 'For weighed goods: the actual weight in kg.' })
  weightKg?: string | null;

  @Field(() => [ShipLotInput], { nullable: true, description: 'The lots it came from; the suggested lots when absent.' })
  lots?: ShipLotInput[] | null;
}

@InputType()
export class ShipProducerOrderInput {
  @Field(() => IdScalar)
  producerOrderId!: string;

  @Field(() => String)
  carrier!: string;

  @Field(() => String)
  trackingReference!: string;

  @Field(() => [ShipLineInput], { nullable: true, description: 'Every line, when given; everything as ordered, from the suggested lots, when absent.' })
  lines?: ShipLineInput[] | null;
}

@ObjectType({ simpleResolvers: true })
export class ProducerOrderPayload {
  @Field(() => ProducerOrder, { nullable: true })
  producerOrder?: ProducerOrder;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@InputType()
export class SetCustomerPriorityInput {
  @Field(() => IdScalar)
  hubId!: string;

  @Field(() => String)
  customerRef!: string;

  @Field(() => Boolean)
  priority!: boolean;
}

@ObjectType({ simpleResolvers: true })
export class HubCustomerPayload {
  @Field(() => HubCustomer, { nullable: true })
  customer?: HubCustomer;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
