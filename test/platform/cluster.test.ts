// WORKERS > 1 as an operator runs it: the real entry point, a primary and its worker processes on
// one port, started, stopped with SIGTERM, and a start that cannot work.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphQLClient } from '../support/graphql.js';
import * as op from '../support/operations.js';
import { mintToken, readyPids, spawnServer } from '../support/server-process.js';
import { findFreePort } from '../../src/shared/free-port.js';
import { isAlive } from '../../src/shared/processes.js';
import { createTestDatabase, TEST_JWT_SECRET } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

describe('npm start with WORKERS=2', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'foodhub-cluster-'));
  chmodSync(dataDir, 0o755);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('with WORKERS=2, serves from two processes on one port, replaces a worker that dies, and stops them all on SIGTERM', async () => {
    const clusterDir = join(dataDir, 'cluster');
    const server = await spawnServer({
      DATABASE_URL: '',
      JWT_SECRET: '',
      NODE_ENV: 'development',
      DATA_DIR: clusterDir,
      WORKERS: '2',
      EMBEDDED_POSTGRES_PORT: String(await findFreePort()),
    });
    try {
      const workers = await waitFor('both workers', async () => (readyPids(server.output()).length >= 2 ? readyPids(server.output()) : undefined));
      expect(new Set(workers).size).toBe(2);
      expect(workers).not.toContain(server.child.pid);
      // Both workers serve the one URL; the primary migrated once and generated one secret for both.
      const api = new GraphQLClient(server.url, await mintToken(clusterDir));
      await api.data(op.CREATE_PRODUCER, { input: { name: 'Before' } });

      process.kill(workers[0]!, 'SIGKILL');
      const replacement = await waitFor('a replacement worker', async () => readyPids(server.output())[2]);
      expect(workers).not.toContain(replacement);
      const { createProducer } = await api.data<{ createProducer: { producer: { name: string } } }>(op.CREATE_PRODUCER, { input: { name: 'After' } });
      expect(createProducer.producer.name).toBe('After');
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
    expect(readyPids(server.output()).filter(isAlive)).toEqual([]);
    expect(server.output()).toContain('database stopped');
  });

  it('with WORKERS=2, stops with exit code 1 and says why when its workers cannot start', async () => {
    // The port is taken, so no worker can listen.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: { ...process.env, DATABASE_URL: await createTestDatabase(), JWT_SECRET: TEST_JWT_SECRET, NODE_ENV: 'production', LOG_LEVEL: 'info', WORKERS: '2', PORT: String(port) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(1);
      expect(output).toContain('a worker failed to start');
      expect(output).not.toContain('GraphQL API ready');
    } finally {
      taken.close();
    }
  });

  it('with WORKERS=2, asked to stop as its workers are still loading, stops them and exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, DATABASE_URL: await createTestDatabase({ empty: true }), JWT_SECRET: TEST_JWT_SECRET, NODE_ENV: 'production', LOG_LEVEL: 'info', WORKERS: '2', PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    // The primary has migrated and forks its workers now; they take a second or so to load, and
    // until then a SIGTERM ends them before they can handle it.
    await waitFor('the migrations', async () => (output.includes('database migrated') ? true : undefined), 60_000);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).not.toContain('GraphQL API ready');
  });
});
