import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { DomainError, userError, UserErrorCode, type UserErrorDetail } from '../shared/errors.js';

registerEnumType(UserErrorCode, { name: 'UserErrorCode', description: 'Why a mutation refused its input.' });

@ObjectType({ simpleResolvers: true, description: 'An expected failure: the mutation changed nothing.' })
export class UserError implements UserErrorDetail {
  @Field(() => [String], { nullable: true, description: 'Path into the input, e.g. ["lines", "1", "quantity"].' })
  field!: string[] | null;

  @Field(() => String)
  message!: string;

  @Field(() => UserErrorCode)
  code!: UserErrorCode;
}

/**
 * Runs a service call for a mutation: its result goes into the payload, and a DomainError (an
 * expected failure, already rolled back) becomes the payload's `userErrors`. Anything else is
 * unexpected and propagates as a GraphQL error.
 */
export async function toPayload<T, P extends object>(
  run: () => Promise<T>,
  wrap: (result: T) => P,
): Promise<P & { userErrors: UserErrorDetail[] }> {
  try {
    return { ...wrap(await run()), userErrors: [] };
  } catch (error) {
    if (error instanceof DomainError) return { userErrors: error.userErrors } as P & { userErrors: UserErrorDetail[] };
    if (quantityOverflow(error)) {
      // Each input is capped, but stock adds up: a level, a lot or an order past what the
      // database keeps is refused by it, the whole transaction with it.
      return { userErrors: [userError(UserErrorCode.INVALID_INPUT, `this would take a quantity past ${MAX_STORED_QUANTITY}, the most the platform keeps`)] } as P & { userErrors: UserErrorDetail[] };
    }
    throw error;
  }
}

/** The largest quantity a stock level, a lot or an order line holds: numeric(15,3). */
const MAX_STORED_QUANTITY = '999,999,999,999.999';

/**
 * PostgreSQL refused a value too large for its column (SQLSTATE 22003; by code, not by message,
 * which a server may give in another language). Only sums of stock reach that far: every number a
 * client sends is capped below it.
 */
function quantityOverflow(error: unknown): boolean {
  return (error as { code?: string } | null)?.code === '22003';
}
