// Three real server processes on one database, all running the scheduler and the webhook
// dispatcher on the system clock, under load while their sessions close and holds lapse.
import { DateTime } from 'luxon';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signToken } from '../../src/auth/tokens.js';
import { GraphQLClient } from '../support/graphql.js';
import { expectStatesConsistent, expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { spawnServer, type ServerProcess } from '../support/server-process.js';
import { createTestDatabase, TEST_JWT_SECRET } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { expectInOrderPerProducerOrder, LOOPBACK_RECEIVERS_ENV, startWebhookReceiver } from '../support/webhook-receiver.js';

describe('three server processes on one database', () => {
  let db: pg.Pool;
  let servers: ServerProcess[] = [];
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

  beforeAll(async () => {
    const databaseUrl = await createTestDatabase();
    db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    const env = { DATABASE_URL: databaseUrl, JWT_SECRET: TEST_JWT_SECRET, NODE_ENV: 'production', HOLD_DURATION: 'PT5S', SCHEDULER_INTERVAL: 'PT0.2S', ...LOOPBACK_RECEIVERS_ENV };
    servers = await Promise.all([spawnServer(env), spawnServer(env), spawnServer(env)]);
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.all(servers.map((s) => s.exited));
    await db.end();
    await receiver.close();
  });

  it('complete each session once, expire each hold once and deliver webhooks in order', async () => {
    const token = await signToken(TEST_JWT_SECRET, { role: 'admin' });
    const apis = servers.map((s) => new GraphQLClient(s.url, token));
    const [api] = apis as [GraphQLClient];
    const producer = await createProducer(api, 'Marie');
    await api.data('mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { userErrors { code } } }', {
      input: { url: receiver.url, kinds: ['HELD', 'RELEASED', 'COMPLETED'], producerId: producer },
    });
    const eggs = await createProduct(api, producer, { name: 'Eggs', onHand: '1000' });
    const closesAt = DateTime.now().plus({ seconds: 10 }).toISO()!;
    const sessions: Awaited<ReturnType<typeof createSession>>[] = [];
    for (let i = 0; i < 4; i += 1) {
      sessions.push(await createSession(api, await createHub(api, `Hub ${i}`), { opensAt: DateTime.now().minus({ hours: 1 }).toISO()!, closesAt, products: [eggs] }));
    }
    let paid = 0;
    await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const session = sessions[i % sessions.length]!;
        const result = await checkout(apis[i % 3]!, session.id, `c${i}`, [{ offerId: session.offerFor(eggs), quantity: '1' }]);
        // Two thirds pay, at another replica; the rest never do, and their holds lapse.
        if (i % 3 === 0) return;
        const { confirmPayment } = await apis[(i + 1) % 3]!.data<{ confirmPayment: { userErrors: unknown[] } }>(op.CONFIRM_PAYMENT, {
          input: { customerOrderId: result.customerOrder!.id },
        });
        if (confirmPayment.userErrors.length === 0) paid += 1;
      }),
    );
    expect(paid).toBeGreaterThan(0);

    await waitFor('every session to complete', async () => {
      const { rows } = await db.query("SELECT count(*)::int AS n FROM sales_session WHERE completed_at IS NULL");
      return rows[0].n === 0 ? true : undefined;
    }, 30_000);
    const { rows: states } = await db.query(`
      SELECT (SELECT count(*) FROM customer_order WHERE status = 'EXPIRED')::int AS expired,
             (SELECT count(*) FROM customer_order WHERE status = 'CONFIRMED')::int AS confirmed,
             (SELECT count(*) FROM stock_movement WHERE kind = 'COMMIT')::int AS commits`);
    expect(states[0]).toEqual({ expired: 60 - paid, confirmed: paid, commits: 4 });
    await expectStockConsistent(db);
    await expectStatesConsistent(db);

    const { rows: events } = await db.query("SELECT count(*)::int AS n FROM domain_event WHERE producer_id = $1 AND kind IN ('HELD', 'RELEASED', 'COMPLETED')", [producer]);
    await waitFor('every webhook delivery', async () => (receiver.received.length >= events[0].n ? true : undefined), 30_000);
    expect(new Set(receiver.received.map((r) => r.eventId)).size).toBe(events[0].n);
    expectInOrderPerProducerOrder(receiver.received);
  });
});
