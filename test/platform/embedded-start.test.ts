// The embedded PostgreSQL at start, where an operator's machine is not as it should be: a
// postmaster.pid left by a machine that died, a port in use, a DATABASE_URL naming no database.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
      const client = new pg.Client({ connectionString: postgres.url('postgres') });
      await client.connect();
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await client.end();
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
