// Starts and stops the embedded PostgreSQL, then ends with the exit code given as argument.
// Used by a test: the package's exit hooks once turned every exit code into 0.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { createLogger } from '../src/shared/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'foodhub-exit-'));
chmodSync(dir, 0o755);
const postgres = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: Number(process.argv[3]), persistent: false, logger: createLogger('silent') });
await postgres.stop();
rmSync(dir, { recursive: true, force: true });
process.exitCode = Number(process.argv[2]);
