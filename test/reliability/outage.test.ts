// PostgreSQL stops and starts again under a running server: requests during the outage fail fast
// with a retryable error (no hang, no crash), and the server recovers by itself with nothing lost.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabaseIfMissing } from '../../src/db/database.js';
import { type RunningPostgres, startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { createLogger } from '../../src/shared/logger.js';
import * as op from '../support/operations.js';
import { createProducer } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { findFreePort } from '../../src/shared/free-port.js';


describe('a database outage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foodhub-outage-'));
  chmodSync(dir, 0o755);
  const logger = createLogger('silent');
  let postgres: RunningPostgres | undefined;
  let t: TestApp | undefined;
  afterAll(async () => {
    await t?.stop().catch(() => undefined);
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails requests fast and retryably, then recovers without a restart and loses nothing', async () => {
    const port = await findFreePort();
    const start = () => startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port, persistent: true, logger });
    postgres = await start();
    await createDatabaseIfMissing(postgres.url('postgres'), 'outage');
    t = await startTestApp({ databaseUrl: postgres.url('outage'), env: { DATABASE_ACQUIRE_TIMEOUT: 'PT1S', LOG_LEVEL: 'silent' } });
    const before = await createProducer(t.api, 'Committed before the outage');

    await postgres.stop();
    // The request ends (a hang would time the test out) with a retryable error, not a 500.
    const during = await t.api.request(op.CREATE_PRODUCER, { input: { name: 'During the outage' } });
    expect(during.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    const health = await fetch(t.app.url.replace('/graphql', '/health'));
    expect(health.status).toBe(503);
    // So does a CSV download: the same answer a client retries, not a 500.
    const csv = await fetch(new URL(`/csv/pick-list?producerId=${before}&deliveryDay=2026-11-25`, t.app.url), { headers: { authorization: `Bearer ${t.api.token}` } });
    expect([csv.status, await csv.json()]).toEqual([503, expect.objectContaining({ code: 'SERVICE_UNAVAILABLE', retryable: true })]);

    postgres = await start();
    const after = await waitFor('the server to recover', async () => {
      const response = await t!.api.request<{ createProducer: { producer: { id: string } } }>(op.CREATE_PRODUCER, { input: { name: 'After the outage' } });
      return response.data?.createProducer.producer.id;
    });
    const { producer } = await t.api.data<{ producer: { name: string } }>('query ($id: ID!) { producer(id: $id) { name } }', { id: before });
    expect(producer.name).toBe('Committed before the outage');
    expect(after).toBeTruthy();
    expect((await fetch(t.app.url.replace('/graphql', '/health'))).status).toBe(200);
  });
});
