// The server as its own process: stopped with SIGTERM under load (graceful), and killed with
// SIGKILL in the middle of checkouts and of completing sessions (crash), then started again.
import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signToken } from '../../src/auth/tokens.js';
import { GraphQLClient } from '../support/graphql.js';
import { expectStatesConsistent, expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { spawnServer, type ServerProcess } from '../support/server-process.js';
import { createTestDatabase, TEST_JWT_SECRET } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const inMinutes = (minutes: number) => DateTime.now().plus({ minutes }).toISO()!;
const inSeconds = (seconds: number) => DateTime.now().plus({ seconds }).toISO()!;

describe('the server process', () => {
  let databaseUrl: string;
  let db: pg.Pool;
  let adminToken: string;
  const servers: ServerProcess[] = [];
  const start = async (env: Record<string, string> = {}) => {
    const server = await spawnServer({ DATABASE_URL: databaseUrl, JWT_SECRET: TEST_JWT_SECRET, NODE_ENV: 'production', ...env });
    servers.push(server);
    return { server, api: new GraphQLClient(server.url, adminToken) };
  };

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    adminToken = await signToken(TEST_JWT_SECRET, { role: 'admin' });
  });
  afterAll(async () => {
    for (const server of servers) server.child.kill('SIGKILL');
    await db.end();
  });

  it('on SIGTERM finishes what it took, closes subscriptions with a reason, and exits 0', async () => {
    const { server, api } = await start();
    const producer = await createProducer(api, 'Jean');
    const carrots = await createProduct(api, producer, { name: 'Carrots', onHand: '1000' });
    const session = await createSession(api, await createHub(api, 'Hub A'), { opensAt: inMinutes(-60), closesAt: inMinutes(60), products: [carrots] });

    const socket = new WebSocket(server.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    await new Promise<void>((resolve) => {
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
      socket.on('message', (data) => {
        if (JSON.parse(data.toString()).type === 'connection_ack') resolve();
      });
    });
    socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `subscription { availabilityChanged(salesSessionId: "${session.id}") { available } }` } }));

    // Each request ends one of two ways: answered (and then its order exists), or refused (and then
    // it does not): refused before it started (connection refused or reset, 503 while stopping).
    const requests = Array.from({ length: 30 }, async (_, i) => {
      try {
        const response = await api.request<{ checkout: { customerOrder: { id: string } | null } }>(op.CHECKOUT, {
          input: { salesSessionId: session.id, customerRef: `c${i}`, idempotencyKey: randomUUID(), lines: [{ offerId: session.offerFor(carrots), quantity: '1' }] },
        });
        if (response.data?.checkout.customerOrder) return { answered: response.data.checkout.customerOrder.id };
        expect(response.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryable: true });
        return { refused: 'SERVICE_UNAVAILABLE' };
      } catch (error) {
        return { refused: String((error as Error).cause ?? error) };
      }
    });
    await waitFor('the first checkouts to commit', async () => ((await db.query('SELECT 1 FROM customer_order LIMIT 1')).rowCount ? true : undefined));
    server.child.kill('SIGTERM');
    const results = await Promise.all(requests);

    expect(await server.exited).toBe(0);
    expect(await closed).toEqual({ code: 1001, reason: 'Going away' });
    // Every order the database holds was answered to its client: nothing was cut off mid-way.
    const answered = results.flatMap((r) => ('answered' in r ? [r.answered] : []));
    const { rows } = await db.query('SELECT id FROM customer_order');
    expect(rows.map((r) => r.id).sort()).toEqual(answered.sort());
    expect(answered.length).toBeGreaterThan(0);
    expect(server.output()).toContain('server stopped');
  });

  it('after SIGKILL mid-checkout and mid-completion, restarts with every invariant, no stranded hold, each session completed once', async () => {
    const env = { HOLD_DURATION: 'PT2S', SCHEDULER_INTERVAL: 'PT0.2S' };
    let { server, api } = await start(env);
    const producer = await createProducer(api, 'Marie');
    const products = [await createProduct(api, producer, { name: 'Eggs', onHand: '5000' }), await createProduct(api, producer, { name: 'Milk', onHand: '5000' })];
    const sessions: Awaited<ReturnType<typeof createSession>>[] = [];
    for (let i = 0; i < 6; i += 1) {
      sessions.push(await createSession(api, await createHub(api, `Hub ${i}`), { opensAt: inMinutes(-60), closesAt: inSeconds(6), products }));
    }

    // Checkouts in flight from many clients, some paid, when the process is killed.
    let stop = false;
    const load = Array.from({ length: 12 }, async (_, worker) => {
      for (let n = 0; !stop; n += 1) {
        const session = sessions[(worker + n) % sessions.length]!;
        const result = await checkout(api, session.id, `w${worker}-${n}`, products.map((p) => ({ offerId: session.offerFor(p), quantity: '1' }))).catch(() => undefined);
        if (result?.customerOrder && n % 2 === 0) {
          await api.request(op.CONFIRM_PAYMENT, { input: { customerOrderId: result.customerOrder.id } }).catch(() => undefined);
        }
      }
    });
    await waitFor('some orders', async () => ((await db.query('SELECT count(*)::int AS n FROM customer_order')).rows[0].n > 40 ? true : undefined));
    server.child.kill('SIGKILL');
    stop = true;
    await Promise.all(load);
    expect(await server.exited).toBe('SIGKILL');
    await expectStockConsistent(db);
    await expectStatesConsistent(db);

    // Restart; the sessions close at their time; kill the server again while it completes them.
    ({ server, api } = await start(env));
    await waitFor('completion to begin', async () => ((await db.query('SELECT 1 FROM sales_session WHERE completed_at IS NOT NULL LIMIT 1')).rowCount ? true : undefined));
    server.child.kill('SIGKILL');
    await server.exited;
    await expectStockConsistent(db);
    await expectStatesConsistent(db);

    ({ server, api } = await start(env));
    const ids = sessions.map((s) => s.id);
    await waitFor('every session to complete and every hold to settle', async () => {
      const { rows } = await db.query(
        `SELECT (SELECT count(*) FROM sales_session WHERE completed_at IS NULL AND id = ANY($1))::int AS open,
                (SELECT count(*) FROM customer_order WHERE status = 'PENDING_PAYMENT' AND sales_session_id = ANY($1))::int AS pending`,
        [ids],
      );
      return rows[0].open === 0 && rows[0].pending === 0 ? true : undefined;
    }, 30_000);
    await expectStockConsistent(db);
    await expectStatesConsistent(db);
    const { rows } = await db.query(`
      SELECT (SELECT count(*) FROM stock_movement m JOIN producer_order p ON p.id = m.producer_order_id
               WHERE m.kind = 'COMMIT' AND p.sales_session_id = ANY($1))::int AS commits,
             (SELECT count(DISTINCT (l.producer_order_id, l.product_id)) FROM customer_order_line l
                JOIN customer_order o ON o.id = l.customer_order_id WHERE o.status = 'CONFIRMED' AND o.sales_session_id = ANY($1))::int AS expected`, [ids]);
    expect(rows[0].commits).toBe(rows[0].expected);
    const { rows: confirmed } = await db.query("SELECT count(*)::int AS n FROM customer_order WHERE status = 'CONFIRMED'");
    expect(confirmed[0].n).toBeGreaterThan(0);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
