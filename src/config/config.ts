import { Duration } from 'luxon';
import { LOCATION_STRATEGIES, priorityFirst } from '../modules/stock/location-strategy.js';

/** Everything the server reads from its environment, parsed and checked once at start. */
export interface Config {
  readonly nodeEnv: 'development' | 'production' | 'test';
  readonly port: number;
  /** Server processes sharing the port (node:cluster); 1 runs the server in this process alone. */
  readonly workers: number;
  /** A PostgreSQL URL, or undefined to run an embedded PostgreSQL under `dataDir`. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly embeddedPostgresPort: number;
  readonly databasePoolSize: number;
  /** How long a request waits for a database connection before failing with SERVICE_UNAVAILABLE. */
  readonly databaseAcquireTimeout: Duration;
  /** The longest any single SQL statement may run (PostgreSQL statement_timeout). */
  readonly databaseStatementTimeout: Duration;
  /** How long a checkout holds stock while waiting for the payment result. */
  readonly holdDuration: Duration;
  /** The longest a hold may last from its checkout, however often its hub extends it (extendHold). */
  readonly holdMaxDuration: Duration;
  /** How a hold picks among a producer's locations: `priority` (default) or `most-stock`. */
  readonly locationStrategy: string;
  /** How often the scheduler looks for sessions to complete and holds to expire. */
  readonly schedulerInterval: Duration;
  /** How long events stay replayable (`after`) and delivery history stays queryable. */
  readonly eventRetention: Duration;
  /** How long an idempotency key replays its write; after that the same key is a new request. */
  readonly idempotencyKeyRetention: Duration;
  /** Events a subscription may have waiting before a client that does not keep up is cut off. */
  readonly subscriptionBuffer: number;
  /** HS256 secret for bearer tokens; in development, generated once under DATA_DIR when unset. */
  readonly jwtSecret: string | undefined;
  /** JWKS URL of an identity provider whose RS256/ES256 tokens are accepted. */
  readonly jwksUrl: string | undefined;
  readonly jwtIssuer: string | undefined;
  readonly jwtAudience: string | undefined;
  /** Browser origins allowed to call the API (CORS); none when empty. */
  readonly corsOrigins: readonly string[];
  /** How long a client has to send a whole request (headers and body) before it is cut off. */
  readonly httpRequestTimeout: Duration;
  readonly introspection: boolean;
  readonly maxQueryDepth: number;
  readonly maxQueryCost: number;
  /**
   * Whether webhooks may be sent to loopback, private and link-local addresses. Off, a webhook URL
   * naming one is refused and a receiver's name that resolves to one is not connected to (SSRF).
   */
  readonly webhookAllowPrivateAddresses: boolean;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const NODE_ENVS = ['development', 'production', 'test'] as const;

/**
 * Reads the configuration from `env`. Every bad value is reported at once, so an operator fixes
 * them in one go instead of one restart per mistake.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return Number(raw);
  };

  /**
   * max: for a duration that becomes a timer or PostgreSQL's statement_timeout, which take at most
   * 2^31 - 1 ms (24.8 days), or that is added to instants (SPAN_MAX).
   */
  const duration = (name: string, fallback: string, min: Duration, max?: Duration): Duration => {
    const raw = env[name] || fallback;
    const parsed = Duration.fromISO(raw);
    if (!parsed.isValid || parsed < min || (max !== undefined && parsed > max)) {
      const range = max === undefined ? `of at least ${min.toISO()}` : `from ${min.toISO()} to ${max.toISO()}`;
      problems.push(`${name} must be an ISO 8601 duration ${range} (e.g. PT15M), got "${raw}"`);
      return Duration.fromISO(fallback);
    }
    // In whole milliseconds: Node's timers and servers and the pool refuse a fraction, which a
    // fraction of an hour or a day often comes to in floating point (PT1.1H is 3960000.0000000005 ms).
    return Number.isInteger(parsed.toMillis()) ? parsed : Duration.fromMillis(Math.round(parsed.toMillis()));
  };
  const TIMER_MAX = Duration.fromObject({ days: 24 });
  /** For a duration added to instants: far beyond any use, well within what a Date and PostgreSQL hold. */
  const SPAN_MAX = Duration.fromObject({ days: 3660 });

  /** Origins as browsers send them (scheme, host, port; lower case, no path): what the Origin header is compared with. */
  const origins = (name: string): string[] =>
    (env[name] ?? '').split(',').map((o) => o.trim()).filter(Boolean).flatMap((raw) => {
      try {
        const parsed = new URL(raw);
        if ((parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.pathname === '/' && !parsed.search && !parsed.hash && !parsed.username) {
          return [parsed.origin];
        }
      } catch {
        // reported below
      }
      problems.push(`${name} must list origins such as https://shop.example.org, got "${raw}"`);
      return [];
    });

  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  };

  let databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl !== undefined) {
    const problem = databaseUrlProblem(databaseUrl);
    if (problem) {
      problems.push(`DATABASE_URL ${problem} (postgres://user:password@host:5432/database)`);
      databaseUrl = undefined;
    }
  }

  const flag = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw !== 'true' && raw !== 'false') {
      problems.push(`${name} must be true or false, got "${raw}"`);
      return fallback;
    }
    return raw === 'true';
  };

  const url = (name: string): string | undefined => {
    const raw = env[name];
    if (!raw) return undefined;
    try {
      const parsed = new URL(raw);
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('protocol');
      // As the URL parser reads it ("HTTP://", leading spaces): the checks below see what is used.
      return parsed.href;
    } catch {
      problems.push(`${name} must be an http(s) URL, got "${raw}"`);
      return undefined;
    }
  };

  const nodeEnv = oneOf('NODE_ENV', NODE_ENVS, 'development');
  const jwtSecret = env.JWT_SECRET || undefined;
  if (jwtSecret !== undefined && jwtSecret.length < 32) problems.push('JWT_SECRET must be at least 32 characters');
  const jwksUrl = url('JWKS_URL');
  if (nodeEnv === 'production' && !jwtSecret && !jwksUrl) {
    problems.push('set JWT_SECRET or JWKS_URL in production: every request is authenticated');
  }
  // An identity provider signs tokens for all its applications with the same keys: without an
  // audience, a token it issued to any of them, with the right claims, would be taken here.
  if (jwksUrl && !env.JWT_AUDIENCE) problems.push('JWT_AUDIENCE must be set with JWKS_URL: the audience your identity provider puts in tokens for this API');
  // Keys fetched in clear could be swapped on the way, and with them who the server believes.
  if (nodeEnv === 'production' && jwksUrl !== undefined && new URL(jwksUrl).protocol !== 'https:') problems.push('JWKS_URL must be an https:// URL in production');
  const holdDuration = duration('HOLD_DURATION', 'PT15M', Duration.fromObject({ seconds: 1 }), SPAN_MAX);
  // Unset: four holds (an hour at the default), so a longer HOLD_DURATION never makes it too short.
  const fourHolds = Duration.fromMillis(Math.min(holdDuration.toMillis() * 4, SPAN_MAX.toMillis())).shiftTo('seconds').toISO()!;
  const config: Config = {
    nodeEnv,
    port: integer('PORT', 4000, 0, 65535),
    workers: integer('WORKERS', 1, 1, 64),
    databaseUrl,
    dataDir: env.DATA_DIR || '.data',
    embeddedPostgresPort: integer('EMBEDDED_POSTGRES_PORT', 5433, 1, 65535),
    databasePoolSize: integer('DATABASE_POOL_SIZE', 20, 1, 1000),
    databaseAcquireTimeout: duration('DATABASE_ACQUIRE_TIMEOUT', 'PT3S', Duration.fromObject({ milliseconds: 100 }), TIMER_MAX),
    databaseStatementTimeout: duration('DATABASE_STATEMENT_TIMEOUT', 'PT30S', Duration.fromObject({ milliseconds: 100 }), TIMER_MAX),
    holdDuration,
    holdMaxDuration: duration('HOLD_MAX_DURATION', fourHolds, Duration.fromObject({ seconds: 1 }), SPAN_MAX),
    locationStrategy: oneOf('LOCATION_STRATEGY', Object.keys(LOCATION_STRATEGIES), priorityFirst.name),
    schedulerInterval: duration('SCHEDULER_INTERVAL', 'PT1S', Duration.fromObject({ milliseconds: 10 }), TIMER_MAX),
    subscriptionBuffer: integer('SUBSCRIPTION_BUFFER', 1000, 1, 1_000_000),
    eventRetention: duration('EVENT_RETENTION', 'P30D', Duration.fromObject({ hours: 1 }), SPAN_MAX),
    idempotencyKeyRetention: duration('IDEMPOTENCY_KEY_RETENTION', 'P30D', Duration.fromObject({ days: 1 }), SPAN_MAX),
    jwtSecret,
    jwksUrl,
    jwtIssuer: env.JWT_ISSUER || undefined,
    jwtAudience: env.JWT_AUDIENCE || undefined,
    corsOrigins: origins('CORS_ORIGINS'),
    httpRequestTimeout: duration('HTTP_REQUEST_TIMEOUT', 'PT30S', Duration.fromObject({ milliseconds: 100 }), TIMER_MAX),
    introspection: flag('INTROSPECTION', nodeEnv !== 'production'),
    maxQueryDepth: integer('MAX_QUERY_DEPTH', 12, 2, 100),
    maxQueryCost: integer('MAX_QUERY_COST', 100_000, 10, 1_000_000),
    webhookAllowPrivateAddresses: flag('WEBHOOK_ALLOW_PRIVATE_ADDRESSES', false),
    logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, nodeEnv === 'test' ? 'warn' : 'info'),
  };

  // Compared only when both were read: a bad HOLD_DURATION stands for its fallback meanwhile.
  const holdsRead = !problems.some((problem) => problem.startsWith('HOLD_'));
  if (holdsRead && config.holdMaxDuration.toMillis() < config.holdDuration.toMillis()) problems.push('HOLD_MAX_DURATION must not be shorter than HOLD_DURATION: it bounds how far a hold is extended');
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/**
 * What is wrong with a DATABASE_URL, checked here because the ORM would otherwise stop the start
 * with a stack: a URL without a database, or with a percent-escape that does not
 * decode (a password's own `%` written as is, not as `%25`). The URL itself is never echoed: it
 * holds the password.
 */
function databaseUrlProblem(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be a postgres:// or postgresql:// URL';
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return 'must be a postgres:// or postgresql:// URL';
  // No host is allowed: the driver then takes PGHOST (or a local socket), as psql does.
  try {
    for (const part of [url.username, url.password, url.pathname]) decodeURIComponent(part);
  } catch {
    return 'has a % that is not a percent-escape in its user, password or database name: write a % as %25';
  }
  if (url.pathname.length <= 1) return 'must name the database, as its path';
  return undefined;
}
