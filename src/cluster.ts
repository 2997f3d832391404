import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { resolveSigningSecret } from './auth/signing-secret.js';
import type { Config } from './config/config.js';
import { provideDatabase } from './db/database.js';
import { migrate, openOrm } from './db/orm.js';

/** How long the primary waits for its workers to finish their requests on shutdown. */
const WORKER_STOP_GRACE_MS = 30_000;

/**
 * The primary of WORKERS server processes (node:cluster) sharing one port, so one machine's cores
 * all serve requests. A worker is a whole server (GraphQL, subscriptions, scheduler, event relay),
 * exactly like a replica on another machine, so nothing here coordinates them: the database does.
 *
 * The primary serves nothing. It provides the database (starting the embedded one for a pilot),
 * migrates it and resolves the development signing secret once, so workers do not race to create
 * them, then starts the workers, replaces one that dies, and stops them all on SIGTERM/SIGINT
 * before stopping the database.
 */
export async function runPrimary(config: Config, logger: Logger): Promise<void> {
  const database = await provideDatabase(config, logger);
  const orm = await openOrm({ url: database.url, poolSize: 1, logger });
  try {
    await migrate(orm);
  } finally {
    await orm.close();
  }
  resolveSigningSecret(config);

  const ready = new Set<Worker>();
  let stopping = false;
  const start = () => cluster.fork({ DATABASE_URL: database.url });

  cluster.on('listening', (worker) => {
    ready.add(worker);
    if (ready.size === config.workers) logger.info({ workers: config.workers }, 'all workers ready');
  });
  cluster.on('exit', (worker, code, signal) => {
    const wasReady = ready.delete(worker);
    if (stopping) return;
    if (!wasReady) {
      // A worker that cannot start (a bad secret, an unreachable database) will not start on a retry either.
      logger.error({ pid: worker.process.pid, code, signal }, 'a worker failed to start; stopping');
      void shutdown('worker failed to start', 1);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'a worker died; starting another');
    start();
  });

  const shutdown = async (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const codes = await Promise.all(workers.map((worker) => stopWorker(worker)));
    try {
      await database.stop();
      logger.info('database stopped');
    } catch (error) {
      logger.error({ err: error }, 'stopping the database failed');
      exitCode = 1;
    }
    process.exit(codes.every((code) => code === 0) ? exitCode : 1);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  for (let i = 0; i < config.workers; i += 1) start();
}

/** Asks a worker to finish its requests and stop; kills it if it takes too long. Resolves with its exit code. */
function stopWorker(worker: Worker): Promise<number | null> {
  return new Promise((resolve) => {
    if (worker.isDead()) return resolve(worker.process.exitCode);
    const deadline = setTimeout(() => worker.process.kill('SIGKILL'), WORKER_STOP_GRACE_MS);
    worker.process.once('exit', (code) => {
      clearTimeout(deadline);
      resolve(code);
    });
    worker.process.kill('SIGTERM');
  });
}
