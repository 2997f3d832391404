import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { SubscriberTooSlowError } from '../events/event-hub.js';
import { DomainError, shortenQuoted, UserErrorCode } from '../shared/errors.js';

/** Codes of errors the client caused; their messages are safe and useful to show. */
const CLIENT_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'QUERY_TOO_COMPLEX',
  'TOO_MANY_SUBSCRIPTIONS',
]);

/**
 * PostgreSQL and driver failures that mean "try again shortly", not "your request is wrong". All
 * of class 08, 08P01 included: PgBouncer answers its pooler errors with it (query_wait_timeout
 * while a pool is paused for a failover, failing server logins), which are outages. A NUL in text,
 * the one request that made PostgreSQL itself answer 08P01, is refused before any SQL runs.
 * Class 40 (a deadlock's victim, a serialization failure) too: the transaction was rolled back
 * whole, and the same request again, a moment later, is the remedy PostgreSQL asks for. So are a
 * lock waited for past its bound (55P03) and a statement cut off by DATABASE_STATEMENT_TIMEOUT
 * (57014): what was being written is busy elsewhere, and nothing of the request stands.
 */
const UNAVAILABLE_SQLSTATE_PREFIXES = ['08', '40', '53', '57P', '55P03', '57014'];
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE']);

/**
 * Shapes every error before it leaves the server: client mistakes keep their message and code;
 * anything unexpected is logged in full and reaches the client only as a stable code, without
 * the message or stack trace that could leak internals.
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const code = formatted.extensions?.code;
    if (typeof code === 'string' && CLIENT_ERROR_CODES.has(code)) {
      // A scalar's refusal, and graphql's for a variable, quote the value (graphql twice).
      return { message: shortenQuoted(formatted.message), locations: formatted.locations, path: formatted.path, extensions: { code } };
    }
    const cause = unwrapResolverError(error);
    // Raised as such by the server itself (the identity provider's keys cannot be fetched).
    if (code === 'SERVICE_UNAVAILABLE') {
      logger.warn({ err: (cause as { originalError?: unknown }).originalError ?? cause }, 'service unavailable');
      return { message: formatted.message, path: formatted.path, extensions: { code, retryable: true } };
    }
    if (cause instanceof DomainError) {
      // A business rule refused a query's arguments (mutations answer with userErrors instead).
      const forbidden = cause.userErrors.some((e) => e.code === UserErrorCode.FORBIDDEN);
      return { message: cause.message, path: formatted.path, extensions: { code: forbidden ? 'FORBIDDEN' : 'BAD_USER_INPUT', userErrors: cause.userErrors } };
    }
    // A request Apollo itself refused with a 4xx but no code (a persisted query whose hash does
    // not match, or of an unknown version): the client's mistake, its message safe to show.
    if (cause instanceof GraphQLError && isClientStatus(cause.extensions.http)) {
      return { message: formatted.message, path: formatted.path, extensions: { code: 'BAD_REQUEST' } };
    }
    if (cause instanceof SubscriberTooSlowError) {
      return { message: cause.message, path: formatted.path, extensions: { code: 'SUBSCRIBER_TOO_SLOW' } };
    }
    if (isUnavailable(cause)) {
      logger.warn({ err: cause, path: formatted.path }, 'database unavailable');
      return {
        message: 'The service is temporarily unavailable; retry the request.',
        path: formatted.path,
        extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true },
      };
    }
    logger.error({ err: cause, path: formatted.path }, 'unexpected error');
    return { message: 'Internal server error', path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}

function isClientStatus(http: unknown): boolean {
  const status = (http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

export function isUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; current && typeof current === 'object' && depth < 5; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (UNAVAILABLE_NODE_CODES.has(code)) return true;
      if (UNAVAILABLE_SQLSTATE_PREFIXES.some((prefix) => code.startsWith(prefix))) return true;
    }
    const message = (current as { message?: unknown }).message;
    if (typeof message === 'string' && /Knex: Timeout acquiring a connection|Connection terminated/i.test(message)) return true;
    current = (current as { cause?: unknown; previous?: unknown }).cause ?? (current as { previous?: unknown }).previous;
  }
  return false;
}
