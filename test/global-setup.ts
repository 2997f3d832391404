// One PostgreSQL for the whole run (embedded, or DATABASE_URL), with a migrated template database
// that every test file clones: each file starts from the real migrated schema in milliseconds.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createDatabaseIfMissing } from '../src/db/database.js';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrate, openOrm } from '../src/db/orm.js';
import { createLogger } from '../src/shared/logger.js';
import { findFreePort } from '../src/shared/free-port.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL of the server's maintenance database, for creating and dropping test databases. */
    adminUrl: string;
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const logger = createLogger('warn');
  const templateDatabase = `foodhub_template_${process.pid}`;
  let adminUrl: string;
  let stopPostgres = async () => {};

  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL;
  } else {
    // mkdtemp makes a 0700 folder; as root, PostgreSQL runs as `postgres` and must reach it.
    const dir = mkdtempSync(join(tmpdir(), 'foodhub-test-'));
    chmodSync(dir, 0o755);
    const postgres = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: await findFreePort(), persistent: false, logger });
    adminUrl = postgres.url('postgres');
    stopPostgres = async () => {
      await postgres.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }

  await createDatabaseIfMissing(adminUrl, templateDatabase);
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${templateDatabase}`;
  const orm = await openOrm({ url: templateUrl.toString(), poolSize: 2 });
  await migrate(orm);
  await orm.close();

  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    await dropDatabases(adminUrl, templateDatabase);
    await stopPostgres();
  };
}

async function dropDatabases(adminUrl: string, templateDatabase: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2",
      [templateDatabase, `${templateDatabase.replace('template', 'test')}%`],
    );
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

