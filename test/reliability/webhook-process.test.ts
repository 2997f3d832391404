// Webhook delivery in the real server process (src/main.ts): a database error while recording a
// delivery does not end the process, and SIGTERM does not wait for a receiver that never answers.
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/tokens.js';
import { GraphQLClient } from '../support/graphql.js';
import { createProducer, createProduct } from '../support/scenarios.js';
import { spawnServer } from '../support/server-process.js';
import { createTestDatabase, TEST_JWT_SECRET } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { LOOPBACK_RECEIVERS_ENV, startWebhookReceiver } from '../support/webhook-receiver.js';

const REGISTER = `mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { userErrors { code } } }`;

describe('webhook delivery in the server process', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(env: Record<string, string> = {}) {
    const databaseUrl = await createTestDatabase();
    const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    cleanups.push(() => db.end());
    const server = await spawnServer({ DATABASE_URL: databaseUrl, JWT_SECRET: TEST_JWT_SECRET, NODE_ENV: 'production', ...LOOPBACK_RECEIVERS_ENV, ...env });
    cleanups.push(async () => {
      server.child.kill('SIGKILL');
      await server.exited;
    });
    const receiver = await startWebhookReceiver();
    cleanups.push(() => receiver.close());
    const api = new GraphQLClient(server.url, await signToken(TEST_JWT_SECRET, { role: 'admin' }));
    const producer = await createProducer(api, 'Jean');
    await api.data(REGISTER, { input: { url: receiver.url, kinds: ['ADJUSTED'], producerId: producer } });
    return { db, server, receiver, api, producer };
  }

  const deliveries = async (db: pg.Pool) =>
    (await db.query<{ status: string; error: string | null }>(
      `SELECT d.status, (SELECT a.error FROM webhook_attempt a WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1) AS error
         FROM webhook_delivery d ORDER BY d.id`,
    )).rows;

  it('keeps running when recording a delivery fails, and delivers it once the database lets it', async () => {
    const { db, server, receiver, api, producer } = await start({ DATABASE_STATEMENT_TIMEOUT: 'PT0.5S' });
    // Attempts cannot be recorded while this transaction holds their table.
    const lock = await db.connect();
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE webhook_attempt IN ACCESS EXCLUSIVE MODE');
    try {
      await createProduct(api, producer, { name: 'Carrots', onHand: '5' });
      await waitFor('the receiver to accept the delivery', async () => (receiver.accepted().length > 0 ? true : undefined));
      await waitFor('recording the attempt to time out', async () => (server.output().includes('canceling statement due to statement timeout') ? true : undefined));
    } finally {
      await lock.query('ROLLBACK');
      lock.release();
    }

    expect(server.output()).toContain('could not record a webhook attempt; will retry the delivery');
    // Sent again (at least once), and recorded this time.
    await waitFor('the delivery to be recorded', async () => ((await deliveries(db))[0]?.status === 'DELIVERED' ? true : undefined));
    expect(receiver.accepted().length).toBeGreaterThanOrEqual(2);
    expect(new Set(receiver.accepted().map((r) => r.eventId)).size).toBe(1);
    expect(server.child.exitCode).toBeNull();
    expect((await fetch(server.url.replace('/graphql', '/health'))).status).toBe(200);
  });

  it('on SIGTERM, stops waiting for a silent receiver, records the attempt, and exits 0', async () => {
    const { db, server, receiver, api, producer } = await start();
    receiver.state.hang = true;
    await createProduct(api, producer, { name: 'Carrots', onHand: '5' });
    await waitFor('the delivery to reach the receiver', async () => (receiver.hanging() === 1 ? true : undefined));

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    // Cut short by the shutdown, not by the request timeout, and left to retry after a restart.
    expect(await deliveries(db)).toEqual([{ status: 'PENDING', error: 'the server stopped before the receiver answered' }]);
  });
});
