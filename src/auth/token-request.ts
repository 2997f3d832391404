import { parseArgs } from 'node:util';
import { actorOfClaims, type FoodhubClaims } from './tokens.js';

/** What `npm run token` is asked to sign: refused (TokenRequestError) when it cannot be read, or the server would refuse it. */
export interface TokenRequest {
  claims: FoodhubClaims;
  /** As jose reads it: a number and a unit (30m, 12h, 7d). */
  expiresIn: string;
}

export class TokenRequestError extends Error {
  override name = 'TokenRequestError';
}

const USAGE = 'usage: npm run token -- --role admin | --role hub --hub <hubId> | --role producer --producer <producerId> | --role customer --hub <hubId> --customer <customerRef> [--expires 12h]';

/** Reads `npm run token`'s arguments; each mistake is said in a line (the script exits 2 with it). */
export function readTokenRequest(args: string[]): TokenRequest {
  const values = parsed(args);
  // As jose reads it (a number and a unit: 30m, 12h, 7d), and at least 1: a typo is said here, not
  // as its TypeError, and a token that has expired as it is printed is no token.
  if (!/^0*[1-9]\d* ?(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks|y|yr|yrs|year|years)$/i.test(values.expires)) {
    throw new TokenRequestError(`--expires must be a number (at least 1) and a unit, e.g. 30m, 12h or 7d (got "${values.expires}")`);
  }
  const needs = (value: string | undefined, what: string): string => {
    if (value === undefined) throw new TokenRequestError(`--role ${values.role} needs ${what}`);
    return value;
  };
  let claims: FoodhubClaims;
  switch (values.role) {
    case 'admin':
      claims = { role: 'admin' };
      break;
    case 'hub':
      claims = { role: 'hub', hubId: needs(values.hub, '--hub <hubId>') };
      break;
    case 'producer':
      claims = { role: 'producer', producerId: needs(values.producer, '--producer <producerId>') };
      break;
    case 'customer':
      claims = { role: 'customer', hubId: needs(values.hub, '--hub <hubId>'), customerRef: needs(values.customer, '--customer <customerRef>') };
      break;
    default:
      throw new TokenRequestError(`--role must be admin, hub, producer or customer\n${USAGE}`);
  }
  // The server's own reading of the claims: a token it would refuse (an id that is not one, a
  // blank customer) is refused here, before anyone tries it.
  try {
    actorOfClaims({ ...claims });
  } catch (error) {
    throw new TokenRequestError(`the server would refuse this token: ${(error as Error).message.replace(/^invalid token: /, '')}`);
  }
  return { claims, expiresIn: values.expires };
}

function parsed(args: string[]) {
  try {
    return parseArgs({
      args,
      options: {
        role: { type: 'string' },
        hub: { type: 'string' },
        producer: { type: 'string' },
        customer: { type: 'string' },
        expires: { type: 'string', default: '12h' },
      },
    }).values;
  } catch (error) {
    // An unknown option, one without its value, a stray word: said in a line, not as a TypeError.
    throw new TokenRequestError(`${(error as Error).message}\n${USAGE}`);
  }
}
