import { Field, InputType, Int, ObjectType } from 'type-graphql';
import { LotGrade } from '../lots/lot.entity.js';
import { MoneyInput } from '../../graphql/money.js';
import { DateTimeScalar, DecimalScalar, IdScalar } from '../../graphql/scalars.js';
import { UserError } from '../../graphql/user-error.js';
import { Offer } from './offer.entity.js';
import { SalesSession } from './sales-session.entity.js';

@InputType()
export class OfferInput {
  @Field(() => IdScalar)
  productId!: string;

  @Field(() => MoneyInput)
  price!: MoneyInput;

  @Field(() => LotGrade, { nullable: true, description: 'Lots picked for this offer must be at least this grade.' })
  minGrade?: LotGrade | null;

  @Field(() => Int, { nullable: true, description: 'Lots picked for this offer must have at least this many days before best-before at delivery.' })
  minShelfLifeDays?: number | null;

  @Field(() => DecimalScalar, {
    nullable: true,
    description: "At most this much of the product is sold in this session (a whole number of its sellable steps); none: as much as the producer has.",
  })
  cap?: string | null;
}

@InputType()
export class CreateSalesSessionInput {
  @Field(() => IdScalar)
  hubId!: string;

  @Field(() => DateTimeScalar)
  opensAt!: Date;

  @Field(() => DateTimeScalar)
  closesAt!: Date;

  @Field(() => DateTimeScalar, { nullable: true, description: 'When producers deliver to the hub; closesAt when absent.' })
  deliversAt?: Date | null;

  @Field(() => String, { description: 'IANA time zone, e.g. "Europe/Paris".' })
  timeZone!: string;

  @Field(() => [OfferInput])
  offers!: OfferInput[];

  @Field(() => String, {
    nullable: true,
    description: 'Send one (at most 200 characters) to make a retry safe: a repeat with the same key and input returns the first session and creates no other; the same key with a different input is IDEMPOTENCY_CONFLICT. Scoped to the hub.',
  })
  idempotencyKey?: string | null;
}

@InputType()
export class CloseSalesSessionInput {
  @Field(() => IdScalar)
  salesSessionId!: string;
}

@InputType()
export class CancelSalesSessionInput {
  @Field(() => IdScalar)
  salesSessionId!: string;
}

@InputType({ description: 'What to move: a field left out stays as it is; deliversAt null makes deliveries due at closesAt, as when none was given.' })
export class UpdateSalesSessionInput {
  @Field(() => IdScalar)
  salesSessionId!: string;

  @Field(() => DateTimeScalar, { nullable: true, description: 'Later, or earlier but still to come.' })
  closesAt?: Date | null;

  @Field(() => DateTimeScalar, { nullable: true })
  deliversAt?: Date | null;
}

@InputType()
export class UpdateOfferPriceInput {
  @Field(() => IdScalar)
  offerId!: string;

  @Field(() => MoneyInput)
  price!: MoneyInput;
}

@InputType()
export class AddOffersInput {
  @Field(() => IdScalar)
  salesSessionId!: string;

  @Field(() => [OfferInput], { description: 'Listed after the session\'s offers, in this order.' })
  offers!: OfferInput[];

  @Field(() => String, {
    nullable: true,
    description: 'Optional (at most 200 characters, scoped to the hub): a repeat with the same key and input answers with the offers as they are now, even if one was changed or withdrawn since; the same key with a different input is IDEMPOTENCY_CONFLICT.',
  })
  idempotencyKey?: string | null;
}

/** The offer a mutation acts on, and no more (withdrawOffer, restoreOffer). */
@InputType()
export class OfferRefInput {
  @Field(() => IdScalar)
  offerId!: string;
}

@InputType()
export class UpdateOfferCapInput {
  @Field(() => IdScalar)
  offerId!: string;

  @Field(() => DecimalScalar, { nullable: true, description: 'The new cap, a whole number of sellable steps; null lifts it. Required: left out, it is refused.' })
  cap?: string | null;
}

@ObjectType({ simpleResolvers: true })
export class OfferPayload {
  @Field(() => Offer, { nullable: true })
  offer?: Offer;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class AddOffersPayload {
  @Field(() => SalesSession, { nullable: true })
  salesSession?: SalesSession;

  @Field(() => [Offer], { nullable: true, description: 'The offers asked for, in the input\'s order.' })
  offers?: Offer[];

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class CreateSalesSessionPayload {
  @Field(() => SalesSession, { nullable: true })
  salesSession?: SalesSession;

  @Field(() => [UserError])
  userErrors!: UserError[];
}

@ObjectType({ simpleResolvers: true })
export class SalesSessionPayload {
  @Field(() => SalesSession, { nullable: true })
  salesSession?: SalesSession;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
