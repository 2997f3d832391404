// What every scenario runs against: its own PostgreSQL (embedded with pg_stat_statements, or
// DATABASE_URL), the server as a separate process, an admin client, and measuring helpers.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { signToken } from '../src/auth/tokens.js';
import { createDatabaseIfMissing } from '../src/db/database.js';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { migrate, openOrm } from '../src/db/orm.js';
import { createLogger } from '../src/shared/logger.js';
import { findFreePort } from '../src/shared/free-port.js';

export interface BenchEnvironment {
  url: string;
  adminToken: string;
  databaseUrl: string;
  db: pg.Pool;
  serverPid: number;
  /** The server's database connections, all its processes together: the reference uses no more. */
  poolSize: number;
  /** Sends a GraphQL operation as the operator and returns its data (throws on errors). */
  gql<T>(query: string, variables?: Record<string, unknown>): Promise<T>;
  /** Statements PostgreSQL has executed in the benchmark database so far (pg_stat_statements). */
  statementCount(): Promise<number | undefined>;
  /**
   * With `profileStatements`: forgets pg_stat_statements' figures so far (reset), or lists the
   * statements the benchmark database ran since, costliest first (top).
   */
  statements?: { reset(): Promise<void>; top(count: number): Promise<Record<string, string | number>[]> };
  /** The resident memory of the server's processes (the primary and its workers), in MiB. */
  serverRssMiB(): number;
  /** CPU time the server's main (JavaScript) threads have used so far, summed over its processes, in ms; undefined off Linux. */
  serverMainThreadCpuMs(): number | undefined;
  /** CPU time the server's processes have used so far (every thread: JavaScript, GC, I/O), in ms; undefined off Linux. */
  serverCpuMs(): number | undefined;
  /** CPU time the embedded PostgreSQL (postmaster and backends) has used so far, in ms; undefined on DATABASE_URL or off Linux. */
  databaseCpuMs(): number | undefined;
  stop(): Promise<void>;
}

export async function startBenchEnvironment(options: { poolSize: number; workers: number; profileStatements?: boolean }): Promise<BenchEnvironment> {
  // BENCH_LOG_LEVEL=debug: PostgreSQL's own log too (for example auto_explain's plans, bench/probe-scans.ts).
  const logger = createLogger(process.env.BENCH_LOG_LEVEL ?? 'warn');
  let adminUrl = process.env.DATABASE_URL;
  let stopPostgres = async () => {};
  let postmasterPid = (): number | undefined => undefined;
  if (!adminUrl) {
    const dir = mkdtempSync(join(tmpdir(), 'foodhub-bench-'));
    chmodSync(dir, 0o755);
    const postgres = await startEmbeddedPostgres({
      dataDir: join(dir, 'pg'),
      port: await findFreePort(),
      persistent: false,
      logger,
      settings: {
        shared_preload_libraries: 'pg_stat_statements',
        'pg_stat_statements.track': 'all',
        // Planning time too: it showed that unprepared statements were planned on every call.
        ...(options.profileStatements ? { 'pg_stat_statements.track_planning': 'on' } : {}),
      },
    });
    adminUrl = postgres.url('postgres');
    postmasterPid = () => Number(readFileSync(join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    stopPostgres = async () => {
      await postgres.stop();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const name = `foodhub_bench_${randomBytes(3).toString('hex')}`;
  await createDatabaseIfMissing(adminUrl, name);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const orm = await openOrm({ url: databaseUrl, poolSize: 2 });
  await migrate(orm);
  await orm.close();

  const db = new pg.Pool({ connectionString: databaseUrl, max: 70 });
  db.on('error', () => undefined);
  const statementsTracked = await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').then(() => true, () => false);
  await db.query('CREATE TABLE IF NOT EXISTS bench_reference_hold (id bigserial PRIMARY KEY, product_id uuid NOT NULL, created_at timestamptz NOT NULL DEFAULT now())');

  const secret = randomBytes(32).toString('hex');
  const server = await spawnServer({
    DATABASE_URL: databaseUrl,
    JWT_SECRET: secret,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    PORT: '0',
    DATABASE_POOL_SIZE: String(options.poolSize),
    MAX_QUERY_COST: '100000',
    WORKERS: String(options.workers),
  });
  const serverPids = () => [server.child.pid!, ...childPids(server.child.pid!)];
  const adminToken = await signToken(secret, { role: 'admin' }, { expiresIn: '6h' });

  const gql = async <T>(query: string, variables: Record<string, unknown> = {}): Promise<T> => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data?: T; errors?: unknown[] };
    if (body.errors || !body.data) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
    return body.data;
  };

  return {
    poolSize: options.poolSize * options.workers,
    url: server.url,
    adminToken,
    databaseUrl,
    db,
    serverPid: server.child.pid!,
    gql,
    async statementCount() {
      if (!statementsTracked) return undefined;
      const { rows } = await db.query('SELECT coalesce(sum(calls), 0)::bigint AS n FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())');
      return Number(rows[0].n);
    },
    statements: options.profileStatements && statementsTracked
      ? {
          async reset() {
            await db.query('SELECT pg_stat_statements_reset()');
          },
          async top(count) {
            const { rows } = await db.query(
              `SELECT calls, round(total_exec_time::numeric, 1)::text AS "run ms", round(total_plan_time::numeric, 1)::text AS "plan ms",
                      round(mean_exec_time::numeric, 3)::text AS "mean run ms",
                      CASE WHEN toplevel THEN 'top' ELSE 'nested' END AS level,
                      left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS statement
                 FROM pg_stat_statements
                WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND query NOT LIKE '%pg_stat_activity%' AND query NOT LIKE '%pg_stat_statements%'
                ORDER BY total_exec_time + total_plan_time DESC LIMIT $1`,
              [count],
            );
            return rows.map((row) => ({ ...row, statement: `\`${String(row.statement).replaceAll('|', '\\|').replaceAll('`', "'")}\`` }));
          },
        }
      : undefined,
    serverRssMiB() {
      let kb = 0;
      for (const pid of serverPids()) {
        try {
          const status = readFileSync(`/proc/${pid}/status`, 'utf8');
          kb += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
        } catch {
          // A worker that exited between listing and reading uses no memory.
        }
      }
      return Math.round(kb / 1024);
    },
    serverMainThreadCpuMs() {
      try {
        return serverPids().reduce((ms, pid) => ms + cpuMs(`/proc/${pid}/task/${pid}/stat`), 0);
      } catch {
        return undefined;
      }
    },
    serverCpuMs() {
      try {
        return serverPids().reduce((ms, pid) => ms + cpuMs(`/proc/${pid}/stat`), 0);
      } catch {
        return undefined;
      }
    },
    databaseCpuMs() {
      try {
        const postmaster = postmasterPid();
        if (postmaster === undefined) return undefined;
        // Backends and background workers are the postmaster's children. Those still running
        // count their own time; those that exited (a pool closing an idle connection) count in
        // the postmaster's cutime/cstime once it has reaped them. Children are read first: one
        // exiting between the two readings is counted twice, one backend's time at most.
        const children = childPids(postmaster).reduce((ms, pid) => ms + cpuMs(`/proc/${pid}/stat`, 0), 0);
        return children + cpuMs(`/proc/${postmaster}/stat`, undefined, true);
      } catch {
        return undefined;
      }
    },
    async stop() {
      server.child.kill('SIGTERM');
      await new Promise((resolve) => server.child.once('exit', resolve));
      await db.end();
      await stopPostgres();
    },
  };
}

async function spawnServer(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the server (profile before optimising).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  // BENCH_NODE_FLAGS: more V8/Node flags for the server alone, e.g. `--log-deopt --logfile=…`,
  // which NODE_OPTIONS does not take.
  profile.push(...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []));
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // BENCH_SERVER_OUT=<file>: the server's own output (logs, --trace-gc) kept in a file.
  const keep = process.env.BENCH_SERVER_OUT ? createWriteStream(process.env.BENCH_SERVER_OUT) : undefined;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      keep?.write(chunk);
      output = (output + chunk.toString()).slice(-20_000);
      // With WORKERS > 1, the primary says when every worker listens.
      const ready = /"url":"(http:\/\/localhost:\d+\/graphql)"/.exec(output);
      const allReady = env.WORKERS === '1' || output.includes('all workers ready');
      if (ready && allReady) resolve({ child, url: ready[1]! });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited (${code}):\n${output}`)));
  });
}

/**
 * utime + stime from a /proc stat file (fields 14 and 15 of the line), in ms (clock ticks of
 * 10 ms). A process that has exited counts as `gone` when given, else fails.
 */
function cpuMs(statFile: string, gone?: number, withReapedChildren = false): number {
  let stat: string;
  try {
    stat = readFileSync(statFile, 'utf8');
  } catch (error) {
    if (gone !== undefined) return gone;
    throw error;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // cutime and cstime (fields 16 and 17): children that exited and were waited for.
  const reaped = withReapedChildren ? Number(fields[13]) + Number(fields[14]) : 0;
  return (Number(fields[11]) + Number(fields[12]) + reaped) * 10;
}

/** The processes `pid` started (a cluster primary's workers), from /proc; none off Linux. */
function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Percentile of a list of numbers (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
