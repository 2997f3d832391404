import { resolve } from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { NOT_OURS_TO_LOSE, startEmbeddedPostgres } from './embedded-postgres.js';

export interface ProvidedDatabase {
  url: string;
  /** Whether this process started it (an embedded PostgreSQL), and so stops it. */
  embedded: boolean;
  /** Stops the embedded PostgreSQL, if this process started one. */
  stop(): Promise<void>;
  /** Settles, with how it ended, if the embedded PostgreSQL this process started ends by itself; never for DATABASE_URL. */
  lost: Promise<string>;
}

const EMBEDDED_DATABASE = 'foodhub';

/**
 * The database to use: DATABASE_URL when set, otherwise an embedded PostgreSQL under DATA_DIR. A
 * server refuses an embedded PostgreSQL another running server owns; an operator script
 * (`share`) uses it.
 */
export async function provideDatabase(config: Config, logger: Logger, whenInUse: 'refuse' | 'share' = 'refuse'): Promise<ProvidedDatabase> {
  if (config.databaseUrl) return { url: config.databaseUrl, embedded: false, stop: async () => {}, lost: NOT_OURS_TO_LOSE };

  const postgres = await startEmbeddedPostgres({
    dataDir: resolve(config.dataDir, 'postgres'),
    port: config.embeddedPostgresPort,
    persistent: true,
    logger,
    whenInUse,
    // A server (which refuses to share) stops its PostgreSQL itself on SIGINT, after its requests;
    // a script sharing it has no such handler, and a Ctrl-C must reach PostgreSQL too.
    ownProcessGroup: whenInUse === 'refuse',
  });
  await createDatabaseIfMissing(postgres.url('postgres'), EMBEDDED_DATABASE);
  return { url: postgres.url(EMBEDDED_DATABASE), embedded: true, stop: () => postgres.stop(), lost: postgres.lost };
}

/**
 * If the embedded PostgreSQL this process started ends by itself, says so at `fatal` and has the
 * process stopped with exit code 1, for a supervisor (systemd's Restart=on-failure) to start it
 * again: the next start recovers the database as after a power cut.
 */
export function stopWhenLost(database: ProvidedDatabase, logger: Logger, stop: (reason: string, exitCode: number) => unknown): void {
  void database.lost.then((how) => {
    logger.fatal({ how }, 'the embedded PostgreSQL stopped by itself; stopping, to be started again');
    void stop('embedded PostgreSQL lost', 1);
  });
}

export async function createDatabaseIfMissing(adminUrl: string, name: string, template?: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      const from = template ? ` TEMPLATE ${pg.escapeIdentifier(template)}` : '';
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}${from}`);
    }
  } finally {
    await client.end();
  }
}
