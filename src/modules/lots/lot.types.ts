import { Field, InputType, ObjectType } from 'type-graphql';
import { DecimalScalar, IdScalar } from '../../graphql/scalars.js';
import { UserError } from '../../graphql/user-error.js';
import { Lot, LotGrade, LotKind } from './lot.entity.js';

@InputType()
export class ReceiveLotInput {
  @Field(() => IdScalar)
  productId!: string;

  @Field(() => IdScalar, { nullable: true, description: "The producer's first-choice location when absent." })
  locationId?: string | null;

  @Field(() => String, { description: 'Unique per product: a batch number, an ear tag.' })
  code!: string;

  @Field(() => LotKind, { defaultValue: LotKind.BATCH })
  kind!: LotKind;

  @Field(() => DecimalScalar)
  quantity!: string;

  @Field(() => LotGrade)
  grade!: LotGrade;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD' })
  harvestedOn?: string | null;

  @Field(() => String, { nullable: true, description: 'YYYY-MM-DD; a lot without one keeps.' })
  bestBefore?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'Its checks are done: release it at once instead of holding it in QUARANTINE.' })
  released?: boolean | null;
}

@InputType()
export class LotRefInput {
  @Field(() => IdScalar)
  lotId!: string;
}

@InputType()
export class MoveLotInput {
  @Field(() => IdScalar)
  lotId!: string;

  @Field(() => IdScalar)
  toLocationId!: string;
}

@ObjectType({ simpleResolvers: true })
export class LotPayload {
  @Field(() => Lot, { nullable: true })
  lot?: Lot;

  @Field(() => [UserError])
  userErrors!: UserError[];
}
