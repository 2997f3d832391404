import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { DomainError, UserErrorCode, type UserErrorDetail } from '../shared/errors.js';

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
    throw error;
  }
}
