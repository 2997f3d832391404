// `npm start` as an operator runs it: the real entry point in its own process, on an embedded
// PostgreSQL kept under DATA_DIR, stopped with SIGTERM and started again.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphQLClient } from '../support/graphql.js';
import * as op from '../support/operations.js';
import { mintToken, spawnServer } from '../support/server-process.js';
import { findFreePort } from '../../src/shared/free-port.js';
import { waitFor } from '../support/wait.js';

/** Runs a script (or the server) to its end, as an operator would. */
function runToExit(script: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

describe('npm start', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'foodhub-start-'));
  chmodSync(dataDir, 0o755);
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('serves GraphQL on an embedded PostgreSQL with a generated signing secret, stops cleanly on SIGTERM and keeps its data', async () => {
    // No DATABASE_URL and no JWT_SECRET: the zero-setup pilot.
    const env = {
      DATABASE_URL: '',
      JWT_SECRET: '',
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      PORT: String(await findFreePort()),
      EMBEDDED_POSTGRES_PORT: String(await findFreePort()),
    };
    const first = await spawnServer(env);
    const api = new GraphQLClient(first.url, await mintToken(dataDir));
    const { createProducer } = await api.data<{ createProducer: { producer: { id: string } } }>(op.CREATE_PRODUCER, { input: { name: 'Jean' } });
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await spawnServer(env);
    try {
      const again = new GraphQLClient(second.url, await mintToken(dataDir));
      const { producer } = await again.data<{ producer: { name: string } | null }>('query ($id: ID!) { producer(id: $id) { name } }', {
        id: createProducer.producer.id,
      });
      expect(producer).toEqual({ name: 'Jean' });
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });

  it('on Ctrl-C (SIGINT to its whole process group) answers a request in flight from its database before stopping it', async () => {
    const env = {
      DATABASE_URL: '', JWT_SECRET: '', NODE_ENV: 'development', DATA_DIR: join(dataDir, 'ctrl-c'),
      PORT: '0', EMBEDDED_POSTGRES_PORT: String(await findFreePort()),
    };
    const server = await spawnServer(env, { processGroup: true });
    const { request } = await import('node:http');
    const body = JSON.stringify({ query: '{ producer(id: "00000000-0000-0000-0000-000000000001") { name } }' });
    const url = new URL(server.url);
    // Expect: 100-continue, so the server says when it has taken the request, before the body is sent.
    const inFlight = request({
      host: url.hostname, port: url.port, path: url.pathname, method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), expect: '100-continue' },
    });
    const taken = new Promise((resolve) => inFlight.once('continue', resolve));
    const answer = new Promise<string>((resolve, reject) => {
      inFlight.on('response', (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString())).on('end', () => resolve(text));
      });
      inFlight.on('error', reject);
    });
    inFlight.flushHeaders();
    await taken;
    // The terminal's Ctrl-C reaches every process of the group.
    process.kill(-server.child.pid!, 'SIGINT');
    await waitFor('the server to start shutting down', async () => (server.output().includes('shutting down') ? true : undefined));
    // PostgreSQL, had it taken the SIGINT too, ends its sessions at once ("fast shutdown"); give it the time to.
    await new Promise((resolve) => setTimeout(resolve, 500));
    inFlight.end(body);
    expect(JSON.parse(await answer)).toEqual({ data: { producer: null } });
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('database stopped');
  });

  it('shares its embedded PostgreSQL with npm run check:stock, and a second server on the same DATA_DIR refuses to start', async () => {
    const env = {
      DATABASE_URL: '', JWT_SECRET: '', NODE_ENV: 'development', DATA_DIR: join(dataDir, 'in-use'),
      PORT: '0', EMBEDDED_POSTGRES_PORT: String(await findFreePort()),
    };
    const server = await spawnServer(env);
    const health = async () => (await fetch(server.url.replace('/graphql', '/health'))).status;
    try {
      const check = await runToExit('scripts/check-stock.ts', env);
      expect(check).toMatchObject({ code: 0, output: expect.stringContaining('levels equal the ledger') });
      expect(await health()).toBe(200);

      const second = await runToExit('src/main.ts', env);
      expect(second.code).toBe(1);
      expect(second.output).toContain(`in use by process ${server.child.pid}`);
      // The operator's to fix: the cause alone, not buried under a stack trace.
      expect(second.output).not.toMatch(/\n\s+at /);
      expect(await health()).toBe(200);
    } finally {
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });

  it('whose embedded PostgreSQL is killed, stops with exit code 1 saying so, and the next start recovers its data', async () => {
    const env = {
      DATABASE_URL: '', JWT_SECRET: '', NODE_ENV: 'development', DATA_DIR: join(dataDir, 'lost'),
      PORT: '0', EMBEDDED_POSTGRES_PORT: String(await findFreePort()),
    };
    const first = await spawnServer(env);
    const api = new GraphQLClient(first.url, await mintToken(env.DATA_DIR));
    const { createProducer } = await api.data<{ createProducer: { producer: { id: string } } }>(op.CREATE_PRODUCER, { input: { name: 'Kept' } });
    // The out-of-memory killer, say.
    const postgresPid = Number(readFileSync(join(env.DATA_DIR, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postgresPid, 'SIGKILL');
    expect(await first.exited).toBe(1);
    expect(first.output()).toMatch(/"msg":"the embedded PostgreSQL stopped by itself[^"]*"/);
    expect(first.output()).toContain('killed by SIGKILL');
    expect(existsSync(join(env.DATA_DIR, 'postgres.owner'))).toBe(false);

    const second = await spawnServer(env);
    try {
      const again = new GraphQLClient(second.url, await mintToken(env.DATA_DIR));
      const { producer } = await again.data<{ producer: { name: string } | null }>('query ($id: ID!) { producer(id: $id) { name } }', { id: createProducer.producer.id });
      expect(producer).toEqual({ name: 'Kept' });
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  });

  it('asked to stop while starting, finishes starting, then stops cleanly with its PostgreSQL', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, DATABASE_URL: '', JWT_SECRET: '', NODE_ENV: 'development', LOG_LEVEL: 'info', DATA_DIR: join(dataDir, 'early-stop'), PORT: '0', EMBEDDED_POSTGRES_PORT: String(await findFreePort()) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
    // PostgreSQL is up; the migrations and the schema are still to come.
    await waitFor('the embedded PostgreSQL', async () => (output.includes('embedded PostgreSQL started') ? true : undefined), 60_000);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output).toContain('database stopped');
  });

  it('refuses to start with a bad setting, saying which', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { ...process.env, PORT: 'eighty', HOLD_DURATION: 'soon' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(1);
    expect(stderr).toContain('PORT must be a whole number');
    expect(stderr).toContain('HOLD_DURATION must be an ISO 8601 duration');
  });
});
