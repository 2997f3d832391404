import { IsolationLevel, MikroORM, type Options, defineConfig } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import type { Logger } from 'pino';
import { migrationsList } from '../../migrations/index.js';
import { entities } from './entities.js';
import { TCP_KEEPALIVE } from './tcp-keepalive.js';

export interface OrmOptions {
  url: string;
  poolSize: number;
  /** Milliseconds a request may wait for a connection: when PostgreSQL is down, fail fast. */
  acquireTimeoutMs?: number;
  /** PostgreSQL statement_timeout, in milliseconds. */
  statementTimeoutMs?: number;
  logger?: Logger;
  /**
   * Let the migrator keep migrations/.snapshot.json (what `migration:create` diffs the entities
   * against). Only that script does: otherwise every server or test run that applied a migration
   * would rewrite the file in the install folder.
   */
  writeSnapshot?: boolean;
}

export function ormConfig({ url, poolSize, acquireTimeoutMs = 3000, statementTimeoutMs = 30_000, logger, writeSnapshot = false }: OrmOptions): Options {
  return defineConfig({
    clientUrl: url,
    // A DATABASE_URL naming a database that does not exist is a typo to report (3D000), not an
    // empty database to create and serve from. The embedded cluster's is made by its own code.
    ensureDatabase: false,
    entities,
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    extensions: [Migrator],
    migrations: {
      // Imported, not globbed: the same list works from TypeScript sources and from the build.
      migrationsList,
      path: 'migrations',
      snapshotName: '.snapshot',
      snapshot: writeSnapshot,
      transactional: true,
      allOrNothing: true,
      emit: 'ts',
    },
    pool: {
      min: 0,
      max: poolSize,
      // Fail a request quickly instead of queueing it while PostgreSQL is unreachable; clients get
      // SERVICE_UNAVAILABLE (retryable) and the pool reconnects by itself once the database is back.
      acquireTimeoutMillis: acquireTimeoutMs,
      createTimeoutMillis: acquireTimeoutMs,
      createRetryIntervalMillis: 100,
    },
    driverOptions: {
      connection: {
        // The URL whole, not only the host, port, user, password and database MikroORM takes from
        // it: its parameters (sslmode, sslrootcert…) apply to the pool too, as to the listener's
        // and the migration lock's connections, which read the same URL. A managed PostgreSQL
        // that requires TLS would otherwise refuse the pool, or one that merely allows it would
        // be sent the pool's password and data in clear.
        connectionString: url,
        statement_timeout: statementTimeoutMs,
        connectionTimeoutMillis: acquireTimeoutMs,
        application_name: 'foodhub-wholesale',
        ...TCP_KEEPALIVE,
        // The hot statements are prepared once per connection (preparedSql()), and so are the
        // statements in the PL/pgSQL functions and triggers. PostgreSQL would still plan the
        // checkout's read afresh on every call, judging its generic plan costlier because it
        // cannot see how many offers the array holds; planning then costs as much as running it.
        // Timestamps come back as text in UTC whatever the server's TimeZone (a database made on a
        // machine in Paris writes an instant of 1850 with Paris's local mean time, +00:09:21, which
        // no reader of ours parses), and dates and timestamps in ISO whatever its DateStyle
        // ('SQL, DMY' writes "23/11/2026 08:00:00 UTC"). Transactions are read committed whatever
        // the database's default, as the checkout's and the scheduler's re-reads after a lock wait
        // assume (under repeatable read they would fail instead, or read what was true before the
        // wait).
        options: '-c plan_cache_mode=force_generic_plan -c TimeZone=UTC -c DateStyle=ISO -c default_transaction_isolation=read\\ committed',
      },
      // knex's own warnings (a pooled connection lost in an outage) go through the JSON log,
      // not to the console as plain text among its lines.
      log: {
        warn: (message: unknown) => logger?.warn({ knex: String(message) }, 'database driver'),
        error: (message: unknown) => logger?.error({ knex: String(message) }, 'database driver'),
        deprecate: (message: unknown) => logger?.debug({ knex: String(message) }, 'database driver'),
        debug: (message: unknown) => logger?.debug({ knex: String(message) }, 'database driver'),
      },
    },
    // The entity manager is forked per request; using the global one is a bug worth failing on.
    allowGlobalContext: false,
    debug: false,
    logger: (message) => logger?.debug({ orm: message }, 'orm'),
  });
}

export async function openOrm(options: OrmOptions): Promise<MikroORM> {
  return MikroORM.init(ormConfig(options));
}

/** An arbitrary, fixed key for the advisory lock that lets one replica at a time migrate. */
const MIGRATION_LOCK_KEY = 7_146_205_331;

/**
 * Read committed whatever the database's default: each statement sees what was committed before
 * it, so a replica that waited for the lock sees the migrations the one before it applied
 * meanwhile (a snapshot taken at the lock's statement, as repeatable read takes, would not).
 */
const MIGRATION_ISOLATION = { isolationLevel: IsolationLevel.READ_COMMITTED };

/**
 * Applies pending migrations. Replicas starting together take turns on an advisory lock, so the
 * second one finds nothing left to do instead of failing halfway through the first one's work.
 */
export async function migrate(orm: MikroORM, logger?: Logger): Promise<void> {
  // Over connections of their own, without the pool's statement_timeout (DATABASE_STATEMENT_TIMEOUT,
  // meant for requests): an index build or a rewrite on a large database may take longer, and
  // a timeout would roll the whole upgrade back, at every start.
  const migrating = await openOrm({
    url: orm.config.get('clientUrl')!,
    // The transaction, and the migrator's own look at its table beside it.
    poolSize: 2,
    statementTimeoutMs: 0,
    logger,
    writeSnapshot: orm.config.get('migrations').snapshot,
  });
  try {
    const connection = migrating.em.getConnection();
    const applied = await connection.transactional(async (trx) => {
      // The lock is the migrations' transaction's own: lost with its connection, it goes with the
      // work it guarded, and the next replica to take it finds the migrations still to do, never
      // half done beside it. Taken before the migrator looks at its table, which it may create.
      await connection.execute('SELECT pg_advisory_xact_lock(?)', [MIGRATION_LOCK_KEY], 'all', trx);
      return migrating.getMigrator().up({ transaction: trx });
    }, MIGRATION_ISOLATION);
    // What an upgrade changed, in the log an operator reads (the migrator's own lines are debug).
    if (applied.length > 0) logger?.info({ migrations: applied.map((m) => m.name) }, 'database migrated');
  } finally {
    await migrating.close();
  }
}
