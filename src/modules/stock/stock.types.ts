import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { Location } from './location.entity.js';
import { DateTimeScalar, DecimalScalar, IdScalar } from '../../graphql/scalars.js';
import { StockMovementKind } from './stock-movement.entity.js';
import { UserError } from '../../graphql/user-error.js';
import { Product } from '../catalogue/product.entity.js';

@ObjectType({ simpleResolvers: true, description: "A product's stock: available = onHand - held - committed, never negative." })
export class Stock {
  static readonly EMPTY: Stock = { onHand: '0', held: '0', committed: '0', available: '0' };

  @Field(() => DecimalScalar)
  onHand!: string;

  @Field(() => DecimalScalar, { description: 'Reserved by checkouts in sessions that are still open.' })
  held!: string;

  @Field(() => DecimalScalar, { description: 'In COMPLETE producer orders not yet fulfilled.' })
  committed!: string;

  @Field(() => DecimalScalar)
  available!: string;
}

@InputType()
export class AdjustStockInput {
  @Field(() => IdScalar)
  productId!: string;

  @Field(() => DecimalScalar, { description: 'Added to stock on hand; negative to take stock away.' })
  delta!: string;

  @Field(() => String, { nullable: true })
  reason?: string | null;

  @Field(() => IdScalar, { nullable: true, description: "Where the stock is; the producer's first-choice location when absent (the lot's, with lotId)." })
  locationId?: string | null;

  @Field(() => IdScalar, {
    nullable: true,
    description: "The released lot the stock is in: the lot's quantity changes with it. Without it, only stock kept outside lots can be taken away.",
  })
  lotId?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Send one (at most 200 characters) to make a retry safe: a repeat with the same key returns the first result and changes nothing; the same key with a different request is IDEMPOTENCY_CONFLICT. Scoped to the producer.',
  })
  idempotencyKey?: string | null;
}

@ObjectType({ simpleResolvers: true })
export class AdjustStockPayload {
  @Field(() => Product, { nullable: true })
  product?: Product;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true, description: 'A product whose stock level disagrees with its ledger or with the orders holding it.' })
export class StockDrift {
  @Field(() => IdScalar)
  productId!: string;

  @Field(() => DecimalScalar)
  onHand!: string;

  @Field(() => DecimalScalar)
  held!: string;

  @Field(() => DecimalScalar)
  committed!: string;

  @Field(() => DecimalScalar, { description: 'What the ledger adds up to.' })
  ledgerOnHand!: string;

  @Field(() => DecimalScalar)
  ledgerHeld!: string;

  @Field(() => DecimalScalar)
  ledgerCommitted!: string;

  @Field(() => DecimalScalar, { description: 'What live customer orders of open sessions hold.' })
  heldByOrders!: string;
}

@ObjectType({ simpleResolvers: true, description: "A product's stock at one location." })
export class LocationStock extends Stock {
  @Field(() => Location)
  location!: Location;
}

@InputType()
export class CreateLocationInput {
  @Field(() => IdScalar)
  producerId!: string;

  @Field(() => String)
  name!: string;

  @Field(() => Int, { description: '1 is the first choice.' })
  priority!: number;
}

@InputType()
export class UpdateLocationInput {
  @Field(() => IdScalar)
  locationId!: string;

  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => Int, { nullable: true })
  priority?: number | null;
}

@ObjectType({ simpleResolvers: true })
export class LocationPayload {
  @Field(() => Location, { nullable: true })
  location?: Location;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@InputType()
export class TransferStockInput {
  @Field(() => IdScalar)
  productId!: string;

  @Field(() => IdScalar)
  fromLocationId!: string;

  @Field(() => IdScalar)
  toLocationId!: string;

  @Field(() => DecimalScalar)
  quantity!: string;

  @Field(() => String, { nullable: true })
  reason?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Send one (at most 200 characters) to make a retry safe: a repeat with the same key returns the first result and moves nothing more; the same key with a different request is IDEMPOTENCY_CONFLICT. Scoped to the producer, shared with adjustStock.',
  })
  idempotencyKey?: string | null;
}

@ObjectType({ simpleResolvers: true })
export class TransferStockPayload {
  @Field(() => Product, { nullable: true })
  product?: Product;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

/** One row of a product's stock ledger (stock-ledger.ts), for its producer. */
@ObjectType('StockMovement', { simpleResolvers: true, description: 'One change of a stock level: the levels are the sum of these.' })
export class StockMovementView {
  @Field(() => IdScalar, { description: 'Increases with every movement; pass it as `before` for the older ones.' })
  id!: string;

  @Field(() => StockMovementKind)
  kind!: StockMovementKind;

  @Field(() => DateTimeScalar)
  at!: Date;

  @Field(() => DecimalScalar)
  onHandDelta!: string;

  @Field(() => DecimalScalar)
  heldDelta!: string;

  @Field(() => DecimalScalar)
  committedDelta!: string;

  @Field(() => String, { nullable: true, description: 'What the producer gave for an adjustment or a lot.' })
  reason!: string | null;

  locationId!: string;
  lotId!: string | null;
  producerOrderId!: string | null;
}
