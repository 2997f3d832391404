// The embedded PostgreSQL at start, where an operator's machine is not as it should be: a
// postmaster.pid left by a machine that died, a port in use, a DATABASE_URL naming no database.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { openOrm, ormConfig } from '../../src/db/orm.js';
import { capturedLogs, createTestDatabase } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { type RunningPostgres, startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { findFreePort } from '../../src/shared/free-port.js';
import { createLogger } from '../../src/shared/logger.js';
import { isAlive } from '../../src/shared/processes.js';
import { MikroORM } from '@mikro-orm/postgresql';
import { inject } from 'vitest';

/** What `SELECT 1` answers over a connection of its own to `url`: the cluster is up and takes connections. */
async function selectOne(url: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query('SELECT 1 AS one')).rows;
  } finally {
    await client.end();
  }
}

describe('the embedded PostgreSQL at start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foodhub-embedded-'));
  chmodSync(dir, 0o755);
  const logger = createLogger('silent');
  const running: RunningPostgres[] = [];
  afterAll(async () => {
    for (const postgres of running) await postgres.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves alone a process that took the number of a stale postmaster.pid, and starts', async () => {
    const dataDir = join(dir, 'stale');
    const port = await findFreePort();
    await (await startEmbeddedPostgres({ dataDir, port, persistent: true, logger })).stop();
    // The machine died with the cluster: its postmaster.pid stayed, and its number is now another
    // process's (one of ours here, so that it may be signalled, as any process may be by root).
    const bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dataDir, 'postmaster.pid'), `${bystander.pid}\n${dataDir}\n1795600000\n${port}\n\n127.0.0.1\n  5432001 12345\nready   \n`);
      const postgres = await startEmbeddedPostgres({ dataDir, port, persistent: true, logger });
      running.push(postgres);
      expect(isAlive(bystander.pid!)).toBe(true);
      expect(await selectOne(postgres.url('postgres'))).toEqual([{ one: 1 }]);
    } finally {
      bystander.kill();
    }
  });

  it('says why it did not start, in PostgreSQL\'s words: a port in use', async () => {
    const busyPort = await findFreePort();
    const first = await startEmbeddedPostgres({ dataDir: join(dir, 'first'), port: busyPort, persistent: false, logger });
    running.push(first);
    await expect(startEmbeddedPostgres({ dataDir: join(dir, 'second'), port: busyPort, persistent: false, logger }))
      .rejects.toThrow(/did not start on port \d+: .*(in use|could not bind).*EMBEDDED_POSTGRES_PORT/s);
  });
});

describe('one data directory, several processes at once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foodhub-claim-'));
  chmodSync(dir, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Processes that claim `dataDir` at the same moment; each answers what it got and keeps it until released. */
  async function claimAtOnce(dataDir: string, count: number) {
    const children = Array.from({ length: count }, () =>
      spawn(process.execPath, ['--import', 'tsx', 'test/support/claim-data-dir.ts', dataDir], { stdio: ['pipe', 'pipe', 'inherit'] }));
    const lines = children.map((child) => {
      const waiting: ((line: string) => void)[] = [];
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        for (let at = out.indexOf('\n'); at >= 0; at = out.indexOf('\n')) {
          waiting.shift()?.(out.slice(0, at));
          out = out.slice(at + 1);
        }
      });
      return () => new Promise<string>((resolve) => waiting.push(resolve));
    });
    const nextLines = () => Promise.all(lines.map((next) => next()));
    // All loaded first, then all told to go at once: what is raced is the claim itself.
    await nextLines();
    const answers = nextLines();
    for (const child of children) child.stdin!.write('go\n');
    return {
      answers: (await answers).map((line) => JSON.parse(line) as { pid: number; heldBy?: number }),
      release: () => children.forEach((child) => child.stdin!.end()),
    };
  }

  it('is claimed by one of them, whose claim the others see, even over an owner that is gone', async () => {
    const dataDir = join(dir, 'race');
    // A server killed with SIGKILL left its claim: a number no process has.
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => gone.once('exit', resolve));
    writeFileSync(`${dataDir}.owner`, `${gone.pid}\n`);
    const { answers, release } = await claimAtOnce(dataDir, 4);
    try {
      const winners = answers.filter((answer) => answer.heldBy === undefined);
      expect(winners).toHaveLength(1);
      for (const loser of answers.filter((answer) => answer.heldBy !== undefined)) expect(loser.heldBy).toBe(winners[0]!.pid);
    } finally {
      release();
    }
  });

  it('is not started on while another process has claimed it and is still starting its PostgreSQL', async () => {
    const dataDir = join(dir, 'starting');
    const { answers: [claimant], release } = await claimAtOnce(dataDir, 1);
    try {
      await expect(startEmbeddedPostgres({ dataDir, port: await findFreePort(), persistent: true, logger: createLogger('silent') }))
        .rejects.toThrow(`in use by process ${claimant!.pid}`);
      // Refused before anything ran on it: no cluster made, none started.
      expect(existsSync(join(dataDir, 'PG_VERSION'))).toBe(false);
    } finally {
      release();
    }
  });

  it('is claimed by a script waiting to share it when the server that claimed it dies before its PostgreSQL is up', async () => {
    const dataDir = join(dir, 'died-starting');
    const { answers: [claimant], release } = await claimAtOnce(dataDir, 1);
    const logs = capturedLogs('info');
    const sharing = startEmbeddedPostgres({ dataDir, port: await findFreePort(), persistent: false, logger: logs.logger, whenInUse: 'share' });
    await waitFor('the script to wait for the claimant', async () => (logs.lines.some((l) => l.owner === claimant!.pid) ? true : undefined));
    // The claimant dies holding its claim, PostgreSQL never started.
    process.kill(claimant!.pid, 'SIGKILL');
    release();
    const postgres = await sharing;
    try {
      expect(readFileSync(`${dataDir}.owner`, 'utf8')).toBe(`${process.pid}\n`);
      expect(await selectOne(postgres.url('postgres'))).toEqual([{ one: 1 }]);
    } finally {
      await postgres.stop();
    }
  });

  it('is taken over from an owner whose number another process has since taken (a machine restarted), in either owner-file format', async () => {
    // With a start time the living process with that number does not have; or, as releases before
    // the claim wrote it, the number alone (which counts only while a PostgreSQL runs on the folder).
    for (const [name, startFile] of [['reused', (pid: number) => `${pid} 1\n`], ['reused-old-format', undefined]] as const) {
      const dataDir = join(dir, name);
      const bystander = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      try {
        writeFileSync(`${dataDir}.owner`, `${bystander.pid}\n`);
        if (startFile) writeFileSync(`${dataDir}.owner-start`, startFile(bystander.pid!));
        const postgres = await startEmbeddedPostgres({ dataDir, port: await findFreePort(), persistent: false, logger: createLogger('silent') });
        // The number alone, as releases before the claim read it: one run beside this one must not misread it.
        expect(readFileSync(`${dataDir}.owner`, 'utf8')).toBe(`${process.pid}\n`);
        await postgres.stop();
        expect([existsSync(`${dataDir}.owner`), existsSync(`${dataDir}.owner-start`)]).toEqual([false, false]);
        expect(isAlive(bystander.pid!)).toBe(true);
      } finally {
        bystander.kill();
      }
    }
  });
});

describe('a data folder reached through a symbolic link', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foodhub-linked-'));
  chmodSync(dir, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is shared with a script that names it by its real path, its PostgreSQL left running', async () => {
    mkdirSync(join(dir, 'real'));
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    const postgres = await startEmbeddedPostgres({ dataDir: join(dir, 'link', 'pg'), port: await findFreePort(), persistent: false, logger: createLogger('silent') });
    try {
      const script = spawn(process.execPath, ['--import', 'tsx', 'test/support/share-data-dir.ts', join(dir, 'real', 'pg')], { stdio: ['ignore', 'pipe', 'inherit'] });
      let said = '';
      script.stdout!.on('data', (chunk: Buffer) => (said += chunk.toString()));
      await new Promise((resolve) => script.once('exit', resolve));
      expect(said.trim()).toBe(postgres.url('postgres'));
      expect(existsSync(join(dir, 'real', 'pg', 'postmaster.pid'))).toBe(true);
      expect(await selectOne(postgres.url('postgres'))).toEqual([{ one: 1 }]);
    } finally {
      await postgres.stop();
    }
  });
});

describe('a DATABASE_URL naming no database', () => {
  it('is refused (3D000), and no database is created', async () => {
    const url = new URL(inject('adminUrl'));
    const name = `missing_${Date.now()}`;
    url.pathname = `/${name}`;
    const orm = MikroORM.init(ormConfig({ url: url.toString(), poolSize: 1 }));
    await expect(orm.then((o) => o.em.getConnection().execute('SELECT 1'))).rejects.toMatchObject({ code: '3D000' });
    await orm.then((o) => o.close()).catch(() => undefined);
    const admin = new pg.Client({ connectionString: inject('adminUrl') });
    await admin.connect();
    expect((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount).toBe(0);
    await admin.end();
  });
});

describe("the database driver's own warnings", () => {
  it('go through the JSON log, not to the console as plain text', async () => {
    const logs = capturedLogs('warn');
    const url = await createTestDatabase();
    const orm = await openOrm({ url, poolSize: 1, logger: logs.logger });
    try {
      await orm.em.fork().getConnection().execute('SELECT 1');
      // The pooled connection is lost, as in an outage: knex warns as it notices.
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'foodhub-wholesale'");
      await admin.end();
      // It notices when the connection is next used.
      await waitFor('knex to notice', async () => {
        await orm.em.fork().getConnection().execute('SELECT 1').catch(() => undefined);
        return logs.lines.some((l) => l.msg === 'database driver') ? true : undefined;
      });
      expect(logs.lines.find((l) => l.msg === 'database driver')).toMatchObject({ level: 40, knex: expect.stringContaining('Connection Error') });
    } finally {
      await orm.close();
    }
  });
});
