import { createSecretKey } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import type { Actor, Role } from '../shared/request-context.js';
import { canonicalId, isUuid } from '../shared/ids.js';
import { characters, MAX_CUSTOMER_REF, unstorableText } from '../shared/text.js';

/** The claims a token carries besides the standard ones. */
export interface FoodhubClaims {
  role: Role;
  hubId?: string;
  producerId?: string;
  customerRef?: string;
}

export class AuthenticationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthenticationError';
  }
}

/**
 * The identity provider's keys (JWKS_URL) could not be fetched: the token may well be good, so the
 * request is told to retry (SERVICE_UNAVAILABLE), not that its token is bad.
 */
export class KeysUnavailableError extends Error {
  /** `cause`: jose's failure (a timeout, a refused connection, a 404 from a JWKS_URL with a typo): the operator's to read in the log. */
  constructor(cause: unknown) {
    super("the identity provider's signing keys cannot be fetched just now; retry the request", { cause });
    this.name = 'KeysUnavailableError';
  }
}

export interface TokenVerifierOptions {
  secret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

/**
 * `fresh`: answered only from a verification of the last few seconds (FRESH_MS), not from one
 * remembered for up to half a minute: a socket's connect and its checks (SocketTokenCheck), so
 * that a key taken out of JWKS_URL stops serving the socket within a minute.
 */
export type TokenVerifier = (authorization: string | undefined, options?: { fresh?: boolean }) => Promise<Actor>;

/**
 * Turns an `Authorization: Bearer <JWT>` header into an Actor. No header: anonymous. A header
 * that does not verify (bad signature, expired, unknown role) is an error, never anonymous, so a
 * client with a broken token finds out instead of silently seeing less.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  // A KeyObject made once, rather than raw bytes that would be imported again on every request.
  const secret = options.secret ? createSecretKey(Buffer.from(options.secret)) : undefined;
  // Read again once 20 s old (jose keeps a set 10 minutes unless told): with the half minute a
  // verified token is remembered, a key the provider removed stops working within a minute.
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl), { cacheMaxAge: KEY_SET_MAX_AGE_MS }) : undefined;
  // A token without an expiry would be a password that never changes: refused.
  const checks = { issuer: options.issuer, audience: options.audience, requiredClaims: ['exp'] };
  const verified = new VerifiedTokens();
  // Verifications under way, by token: the sockets and requests of one storefront share a token,
  // and when its memory lapses they all ask at once. One verification answers them all.
  const verifying = new Map<string, Promise<Actor>>();

  const verify = async (token: string): Promise<Actor> => {
    let payload: JWTPayload | undefined;
    const failures: string[] = [];
    if (secret) {
      try {
        payload = (await jwtVerify(token, secret, { ...checks, algorithms: ['HS256'] })).payload;
      } catch (error) {
        failures.push(describe(error));
      }
    }
    let keysUnavailable: unknown;
    if (!payload && jwks) {
      try {
        payload = (await jwtVerify(token, jwks, { ...checks, algorithms: ['RS256', 'ES256'] })).payload;
      } catch (error) {
        if (isKeySetFetchFailure(error)) keysUnavailable = error;
        failures.push(describe(error));
      }
    }
    if (!payload && keysUnavailable) throw new KeysUnavailableError(keysUnavailable);
    if (!payload) throw new AuthenticationError(`invalid token: ${failures.join('; ') || 'no key configured'}`);
    const actor = actorOfClaims(payload);
    verified.remember(token, actor, payload.exp);
    return actor;
  };

  return async (authorization, options) => {
    if (!authorization) return { kind: 'anonymous' };
    const token = bearerToken(authorization);
    const known = verified.get(token, options?.fresh ? FRESH_MS : undefined);
    if (known) return known;
    let answer = verifying.get(token);
    if (!answer) {
      answer = verify(token).finally(() => verifying.delete(token));
      verifying.set(token, answer);
    }
    return answer;
  };
}

/** How long a key set fetched from JWKS_URL is used before it is fetched again. */
const KEY_SET_MAX_AGE_MS = 20_000;
/**
 * How old a verification may be for a `fresh` answer. Many sockets share a storefront's token:
 * their checks within these seconds share one verification. With the key set's 20 s, such an
 * answer holds a removed key for at most 25 s, and a socket checked every 25 s at most stops being
 * served within 50 s: ten seconds to spare for a provider slow to answer.
 */
const FRESH_MS = 5_000;

/**
 * Tokens that verified, and whom they stand for. A storefront sends the same token with every
 * request, and checking its signature was a noticeable part of a checkout's CPU time. An entry
 * lasts half a minute at most (with the key set's 20 s, a key taken out of a JWKS stops working
 * within 50 s), never past the token's own expiry, and only successes are kept.
 */
class VerifiedTokens {
  private static readonly MAX_ENTRIES = 10_000;
  private static readonly MAX_AGE_MS = 30_000;
  private readonly entries = new Map<string, { actor: Actor; until: number; verifiedAt: number }>();

  /** The actor of a token that verified, if it is remembered, and, given `maxAgeMs`, verified no longer ago than that. */
  get(token: string, maxAgeMs?: number): Actor | undefined {
    const entry = this.entries.get(token);
    if (!entry) return undefined;
    const now = Date.now();
    if (entry.until <= now) {
      this.entries.delete(token);
      return undefined;
    }
    return maxAgeMs === undefined || now - entry.verifiedAt <= maxAgeMs ? entry.actor : undefined;
  }

  remember(token: string, actor: Actor, expiresAtSeconds: number | undefined): void {
    const verifiedAt = Date.now();
    const until = Math.min(verifiedAt + VerifiedTokens.MAX_AGE_MS, expiresAtSeconds === undefined ? Infinity : expiresAtSeconds * 1000);
    // Oldest first out: a Map iterates in insertion order (a token verified again moves to the end).
    this.entries.delete(token);
    if (this.entries.size >= VerifiedTokens.MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { actor, until, verifiedAt });
  }
}

/**
 * Whether jose failed to fetch the key set, rather than to verify the token with it: a timeout,
 * a network failure, an answer other than 200, or one that is no key set (jwks/remote.js).
 */
function isKeySetFetchFailure(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'ERR_JWKS_TIMEOUT' || code === 'ERR_JOSE_GENERIC' || code === 'ERR_JWKS_INVALID' || error instanceof TypeError;
}

function describe(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'ERR_JWT_EXPIRED') return 'it has expired';
  if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return 'its signature does not verify';
  if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') return `a claim is wrong (${(error as Error).message})`;
  return 'it is not a valid token for this server';
}

/** Who a verified token's claims say the caller is; AuthenticationError when the server would refuse them. */
export function actorOfClaims(claims: JWTPayload): Actor {
  const id = (name: string): string => {
    const value = claims[name];
    if (typeof value !== 'string' || !isUuid(value)) throw new AuthenticationError(`invalid token: the "${name}" claim must be an id`);
    // As the API reads ids (shared/ids.ts): the caller's own id compares equal to the records'.
    return canonicalId(value);
  };
  switch (claims.role) {
    case 'admin':
      return { kind: 'admin' };
    case 'hub':
      return { kind: 'hub', hubId: id('hubId') };
    case 'producer':
      return { kind: 'producer', producerId: id('producerId') };
    case 'customer': {
      // As a checkout reads it (trimmed), so the claim compares equal to the orders' references.
      const customerRef = typeof claims.customerRef === 'string' ? claims.customerRef.trim() : '';
      if (customerRef.length === 0) throw new AuthenticationError('invalid token: the "customerRef" claim is missing');
      if (unstorableText(customerRef) || characters(customerRef) > MAX_CUSTOMER_REF) {
        throw new AuthenticationError(`invalid token: the "customerRef" claim must be at most ${MAX_CUSTOMER_REF} characters, with no NUL or lone surrogate`);
      }
      return { kind: 'customer', hubId: id('hubId'), customerRef };
    }
    default:
      throw new AuthenticationError('invalid token: "role" must be admin, hub, producer or customer');
  }
}

/** The token of an `Authorization: Bearer <token>` header. */
function bearerToken(authorization: string): string {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match) throw new AuthenticationError('the Authorization header must be "Bearer <token>"');
  return match[1]!;
}

/**
 * When the token of a header that verified expires (every accepted token has an `exp`), in ms
 * since the epoch: by the system clock, which is what verification checks `exp` against.
 */
export function tokenExpiresAt(authorization: string): number | undefined {
  const { exp } = decodeJwt(bearerToken(authorization));
  return exp === undefined ? undefined : exp * 1000;
}

/** Signs an HS256 token (for `npm run token` and tests). */
export function signToken(
  secret: string,
  claims: FoodhubClaims,
  options: { expiresIn?: string; issuer?: string; audience?: string } = {},
): Promise<string> {
  let jwt = new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '12h');
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
