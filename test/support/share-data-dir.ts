// An operator script's start on an embedded PostgreSQL's data directory (whenInUse: share): it
// prints the URL it was given, or why it could not start, and leaves.
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { findFreePort } from '../../src/shared/free-port.js';
import { createLogger } from '../../src/shared/logger.js';

try {
  const postgres = await startEmbeddedPostgres({
    dataDir: process.argv[2]!, port: await findFreePort(), persistent: true, logger: createLogger('silent'), whenInUse: 'share',
  });
  process.stdout.write(`${postgres.url('postgres')}\n`);
  await postgres.stop();
} catch (error) {
  process.stdout.write(`refused: ${(error as Error).message}\n`);
}
