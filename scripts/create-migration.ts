// Generates a migration from the difference between the entities and migrations/.snapshot.json,
// on a throwaway embedded PostgreSQL, and registers it in migrations/index.ts.
// Usage: npm run migration:create [-- --initial]
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDatabaseIfMissing } from '../src/db/database.js';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrate, openOrm } from '../src/db/orm.js';
import { findFreePort } from '../src/shared/free-port.js';
import { createLogger } from '../src/shared/logger.js';

const logger = createLogger('info');
const SNAPSHOT = 'migrations/.snapshot.json';
const dir = mkdtempSync(join(tmpdir(), 'foodhub-migration-'));
chmodSync(dir, 0o755);
const postgres = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: await findFreePort(), persistent: false, logger });
try {
  await createDatabaseIfMissing(postgres.url('postgres'), 'migration');
  const snapshot = existsSync(SNAPSHOT) ? readFileSync(SNAPSHOT, 'utf8') : undefined;
  const orm = await openOrm({ url: postgres.url('migration'), poolSize: 2, writeSnapshot: true });
  await migrate(orm);
  const result = await orm.getMigrator().createMigration('migrations', false, process.argv.includes('--initial'));
  await orm.close();
  if (!result.fileName) {
    // The migrator rewrites the snapshot even then, from the database as PostgreSQL describes it:
    // the same schema, spelt differently, and a diff of a thousand lines for nothing.
    if (snapshot !== undefined) writeFileSync(SNAPSHOT, snapshot);
    logger.info('no changes: the entities match the migrations');
  } else {
    logger.info({ file: result.fileName }, 'migration created');
  }
  writeIndex();
} finally {
  await postgres.stop();
  rmSync(dir, { recursive: true, force: true });
}

function writeIndex(): void {
  const files = readdirSync('migrations').filter((f) => /^Migration\d+.*\.ts$/.test(f)).sort();
  const names = files.map((f) => f.replace(/\.ts$/, ''));
  const source = [
    '// Every migration, in order. `npm run migration:create` appends new ones here.',
    "import type { MigrationObject } from '@mikro-orm/core';",
    ...names.map((n) => `import { ${n} } from './${n}.js';`),
    '',
    'export const migrationsList: MigrationObject[] = [',
    ...names.map((n) => `  { name: '${n}', class: ${n} },`),
    '];',
    '',
  ].join('\n');
  writeFileSync('migrations/index.ts', source);
}
