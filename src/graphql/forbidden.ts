import { GraphQLError } from 'graphql';

/** A read the caller's role allows in general but not of this record. */
export function forbiddenRead(what: string): GraphQLError {
  return new GraphQLError(`not allowed to read ${what}`, { extensions: { code: 'FORBIDDEN' } });
}
