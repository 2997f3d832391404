import cluster from 'node:cluster';
import type { Logger } from 'pino';
import { type App, startApp } from './app.js';
import { runPrimary } from './cluster.js';
import { type Config, ConfigError, loadConfig } from './config/config.js';
import { type ProvidedDatabase, provideDatabase, stopWhenLost } from './db/database.js';
import { setupProblem } from './shared/errors.js';
import { createLogger } from './shared/logger.js';

/** How long a shutdown may take before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 30_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  // A backstop: background work (the event relay, webhook deliveries, the scheduler's jobs) catches
  // and logs its own errors. A rejection that still escapes is a bug, logged loudly with its
  // stack, but not a reason to exit: everything that matters is in PostgreSQL and re-read by the
  // next tick, while exiting would cut off every request and subscription of this process (and a
  // fault that repeats, such as a locked table, would keep the cluster restarting its workers).
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection (a bug); the server keeps running');
  });
  if (config.workers > 1 && cluster.isPrimary) await runPrimary(config, logger);
  else await runServer(config, logger);
}

/** One whole server in this process: alone, or as one of the cluster's workers. */
async function runServer(config: Config, logger: Logger): Promise<void> {
  let running: { database: ProvidedDatabase; app: App } | undefined;
  const starting = (async () => {
    const database = await provideDatabase(config, logger);
    stopWhenLost(database, logger, (reason, exitCode) => shutdown(reason, exitCode));
    try {
      running = { database, app: await startApp({ config, databaseUrl: database.url, logger }) };
    } catch (error) {
      await database.stop().catch(() => undefined);
      throw error;
    }
  })();

  let stopping = false;
  /** exitCode 1: stopped for a fault, for a supervisor (systemd's Restart=on-failure) to start it again. */
  const shutdown = async (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    try {
      // Asked to stop while starting: finish starting first, so nothing is left half made.
      await starting.catch(() => undefined);
      if (running) {
        await running.app.stop();
        logger.info('server stopped');
        await running.database.stop();
        if (running.database.embedded) logger.info('database stopped');
      }
      process.exit(exitCode);
    } catch (error) {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // A worker whose primary is gone (killed with SIGKILL) finishes its requests and stops, rather
  // than serving on alone with nobody to stop it.
  if (cluster.isWorker) process.on('disconnect', () => void shutdown('primary gone'));

  await starting;
}

main().catch((error: unknown) => {
  process.stderr.write(`Could not start: ${startFailure(error)}\n`);
  process.exit(1);
});

/** What the operator reads when the start fails: the cause alone when it is theirs to fix (setupProblem()), else the stack. */
function startFailure(error: unknown): string {
  return setupProblem(error) ?? (error instanceof Error ? (error.stack ?? error.message) : String(error));
}
