import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import pg from 'pg';
import { inject } from 'vitest';
import { type App, type AppOptions, startApp } from '../../src/app.js';
import { type FoodhubClaims, signToken } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config/config.js';
import { createDatabaseIfMissing } from '../../src/db/database.js';
import { createLogger } from '../../src/shared/logger.js';
import { ManualClock } from './clock.js';
import { GraphQLClient } from './graphql.js';

/** The signing secret every test server is configured with. */
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256';

export interface TestApp {
  app: App;
  clock: ManualClock;
  /** GraphQL over HTTP against the running server, as the platform operator (admin). */
  api: GraphQLClient;
  /** A client acting with the given claims, or anonymously when none are given. */
  as(claims?: FoodhubClaims): Promise<GraphQLClient>;
  /** Direct SQL on the same database, for checking invariants the API does not expose. */
  db: pg.Pool;
  databaseUrl: string;
  stop(): Promise<void>;
}

export interface TestAppOptions {
  /** Where the test's clock starts (ISO 8601). */
  start?: string;
  /** Extra environment, as an operator would set it (e.g. HOLD_DURATION). */
  env?: Record<string, string>;
  /** Reuse an existing test database (a second server on the same database). */
  databaseUrl?: string;
  clock?: ManualClock;
  /** Resolves webhook receivers' names in place of the system resolver. */
  webhookResolver?: AppOptions['webhookResolver'];
  /** The server's logger, for a test that reads what it logs (capturedLogs()). */
  logger?: AppOptions['logger'];
  /** How often the event hub sweeps: a test that must see events positioned by their commit alone sets it beyond the test. */
  eventSweepIntervalMs?: number;
}

/** A fresh database cloned from the migrated template, or an `empty` one that a server migrates as it starts. */
export async function createTestDatabase({ empty = false }: { empty?: boolean } = {}): Promise<string> {
  const adminUrl = inject('adminUrl');
  const name = `${inject('templateDatabase').replace('template', empty ? 'empty' : 'test')}_${randomBytes(4).toString('hex')}`;
  await createDatabaseIfMissing(adminUrl, name, empty ? undefined : inject('templateDatabase'));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A real server on a free port, on its own database, with a clock the test controls. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const databaseUrl = options.databaseUrl ?? (await createTestDatabase());
  const clock = options.clock ?? new ManualClock(options.start ?? '2026-11-23T08:00:00+01:00');
  // The scheduler's own timer is slowed right down: tests tick it with runOnce() after moving the
  // clock, except the test that proves the timer alone completes a session.
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    SCHEDULER_INTERVAL: 'PT1H',
    DATABASE_POOL_SIZE: '20',
    JWT_SECRET: TEST_JWT_SECRET,
    ...options.env,
  });
  const app = await startApp({
    config, databaseUrl, clock, logger: options.logger ?? createLogger(config.logLevel), webhookResolver: options.webhookResolver, eventSweepIntervalMs: options.eventSweepIntervalMs,
  });
  const db = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  db.on('error', () => undefined); // idle connections die with the database in the outage test
  const as = async (claims?: FoodhubClaims) =>
    new GraphQLClient(app.url, claims ? await signToken(config.jwtSecret ?? TEST_JWT_SECRET, claims) : undefined);
  return {
    app,
    clock,
    api: await as({ role: 'admin' }),
    as,
    db,
    databaseUrl,
    async stop() {
      await app.stop();
      await db.end();
    },
  };
}

/** A logger at `level` that keeps each line it writes, parsed, in `lines`. */
export function capturedLogs(level = 'info') {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level }, sink), lines };
}
