import cluster, { type Worker } from 'node:cluster';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { resolveSigningSecret } from './auth/signing-secret.js';
import type { Config } from './config/config.js';
import { type ProvidedDatabase, provideDatabase, stopWhenLost } from './db/database.js';
import { migrate, openOrm } from './db/orm.js';

/** How long the primary waits for its workers to finish their requests on shutdown. */
const WORKER_STOP_GRACE_MS = 30_000;
/** The longest wait before starting a worker again, when workers keep dying. */
const MAX_RESTART_DELAY_MS = 30_000;
/** A worker that lived this long died of something new: the next one starts at once. */
const HEALTHY_LIFETIME_MS = 60_000;

/**
 * The primary of WORKERS server processes (node:cluster) sharing one port, so one machine's cores
 * all serve requests. A worker is a whole server (GraphQL, subscriptions, scheduler, event relay),
 * exactly like a replica on another machine, so nothing here coordinates them: the database does.
 *
 * The primary serves nothing. It provides the database (starting the embedded one for a pilot),
 * migrates it and resolves the development signing secret before any worker starts, so workers
 * find both ready instead of racing for them. It then starts the workers and starts a new one when
 * one dies, waiting longer each time they keep dying. If none of the first workers can start (a bad
 * setting, an unreachable database), it stops. On SIGTERM/SIGINT it stops every worker, each
 * finishing its requests, then the database.
 */
export async function runPrimary(config: Config, logger: Logger): Promise<void> {
  let stopping = false;
  let database: ProvidedDatabase | undefined;
  const prepared = prepare(config, logger).then((provided) => (database = provided));

  const shutdown = async (reason: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'shutting down workers');
    // A stop asked for while starting waits for the database to be up, so it is stopped too.
    await prepared.catch(() => undefined);
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const stoppedCleanly = await Promise.all(workers.map((worker) => stopWorker(worker)));
    try {
      await database?.stop();
      if (database?.embedded) logger.info('database stopped');
    } catch (error) {
      logger.error({ err: error }, 'stopping the database failed');
      exitCode = 1;
    }
    process.exit(stoppedCleanly.every(Boolean) ? exitCode : 1);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  const provided = await prepared;
  if (stopping) return;
  const { url, embedded } = provided;
  stopWhenLost(provided, logger, shutdown);

  // With the embedded database, the workers are this machine's only replicas: they are handed the
  // secret generated for them, and are not told (as servers given a DATABASE_URL are) to share one.
  const secret = embedded && !config.jwtSecret ? resolveSigningSecret(config) : undefined;
  const workerEnv = { DATABASE_URL: url, ...(secret ? { JWT_SECRET: secret } : {}) };
  const startedAt = new Map<Worker, number>();
  const start = () => startedAt.set(cluster.fork(workerEnv), performance.now());
  let everReady = false;
  let restartDelayMs = 0;

  const listening = new Set<Worker>();
  cluster.on('listening', (worker) => {
    listening.add(worker);
    if (!everReady && listening.size >= config.workers) {
      everReady = true;
      logger.info({ workers: config.workers }, 'all workers ready');
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    const lived = performance.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    listening.delete(worker);
    if (stopping) return;
    if (!everReady) {
      logger.error({ worker: worker.process.pid, code, signal }, 'a worker failed to start; stopping');
      void shutdown('a worker failed to start', 1);
      return;
    }
    // Workers that die again and again (a bad deploy, a database that is down) must not spin.
    restartDelayMs = lived >= HEALTHY_LIFETIME_MS ? 0 : Math.min(Math.max(restartDelayMs * 2, 1000), MAX_RESTART_DELAY_MS);
    logger.error({ worker: worker.process.pid, code, signal, restartInMs: restartDelayMs }, 'a worker died; starting another');
    setTimeout(() => {
      if (!stopping) start();
    }, restartDelayMs);
  });

  for (let i = 0; i < config.workers; i += 1) start();
}

/** The database, migrated, and the development signing secret, before any worker starts. */
async function prepare(config: Config, logger: Logger): Promise<ProvidedDatabase> {
  const database = await provideDatabase(config, logger);
  try {
    const orm = await openOrm({ url: database.url, poolSize: 1, logger });
    try {
      await migrate(orm, logger);
    } finally {
      await orm.close();
    }
    resolveSigningSecret(config);
    return database;
  } catch (error) {
    await database.stop().catch(() => undefined);
    throw error;
  }
}

/**
 * Asks a worker to finish its requests and stop; kills it if it takes too long. Resolves with
 * whether it stopped cleanly: with code 0, or ended by SIGTERM or SIGINT itself, which only a
 * worker still loading can be (a running one handles both and exits 0): it had nothing to finish.
 */
function stopWorker(worker: Worker): Promise<boolean> {
  const clean = (code: number | null, signal: string | null) => code === 0 || signal === 'SIGTERM' || signal === 'SIGINT';
  return new Promise((resolve) => {
    if (worker.isDead()) return resolve(clean(worker.process.exitCode, worker.process.signalCode));
    const deadline = setTimeout(() => worker.process.kill('SIGKILL'), WORKER_STOP_GRACE_MS);
    worker.process.once('exit', (code, signal) => {
      clearTimeout(deadline);
      resolve(clean(code, signal));
    });
    worker.process.kill('SIGTERM');
  });
}
