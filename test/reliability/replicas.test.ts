// Several servers on one database, each with its own pool, scheduler, event listener and webhook
// dispatcher, as a region runs them. PostgreSQL is the only thing they share.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatesConsistent, expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { seededRandom } from '../support/random.js';
import { checkout, createHub, createProducer, createProduct, createSession, orderMutation, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { expectInOrderPerProducerOrder, LOOPBACK_RECEIVERS_ENV, startWebhookReceiver } from '../support/webhook-receiver.js';

describe('three replicas on one database', () => {
  let replicas: TestApp[];
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

  beforeAll(async () => {
    const first = await startTestApp({ start: '2026-11-23T08:00:00+01:00', env: LOOPBACK_RECEIVERS_ENV });
    replicas = [first];
    for (let i = 0; i < 2; i += 1) replicas.push(await startTestApp({ databaseUrl: first.databaseUrl, clock: first.clock, env: LOOPBACK_RECEIVERS_ENV }));
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    for (const replica of replicas.reverse()) await replica.stop();
    await receiver.close();
  });

  it('takes the same idempotency key at two replicas at the same moment as one order', async () => {
    const [a, b] = replicas as [TestApp, TestApp];
    const producer = await createProducer(a.api, 'Jean');
    const carrots = await createProduct(a.api, producer, { name: 'Carrots', onHand: '100' });
    const session = await createSession(a.api, await createHub(a.api, 'Hub A'), {
      opensAt: '2026-11-23T07:00:00+01:00',
      closesAt: '2026-11-23T20:00:00+01:00',
      products: [carrots],
    });
    for (let round = 0; round < 10; round += 1) {
      const key = randomUUID();
      const lines = [{ offerId: session.offerFor(carrots), quantity: '1' }];
      const [x, y] = await Promise.all([checkout(a.api, session.id, 'ali', lines, key), checkout(b.api, session.id, 'ali', lines, key)]);
      expect(x.customerOrder!.id).toBe(y.customerOrder!.id);
    }
    expect((await stockOf(a.api, carrots)).held).toBe('10');
    const { rows } = await a.db.query('SELECT count(*)::int AS n FROM customer_order');
    expect(rows[0].n).toBe(10);
  });

  it('under load, completes each session once, expires each hold once and sends each webhook in order', async () => {
    const [a] = replicas as [TestApp];
    const random = seededRandom(7);
    const producer = await createProducer(a.api, 'Marie');
    await a.api.data(`mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { userErrors { code } } }`, {
      input: { url: receiver.url, kinds: ['HELD', 'RELEASED', 'COMPLETED'], producerId: producer },
    });
    const products = [await createProduct(a.api, producer, { name: 'Eggs', onHand: '500' }), await createProduct(a.api, producer, { name: 'Milk', onHand: '500' })];
    const sessions: Awaited<ReturnType<typeof createSession>>[] = [];
    for (let i = 0; i < 6; i += 1) {
      sessions.push(await createSession(a.api, await createHub(a.api, `Hub ${i}`), { opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-23T18:00:00+01:00', products }));
    }
    a.clock.set('2026-11-23T09:00:00+01:00');
    await Promise.all(
      Array.from({ length: 90 }, async (_, i) => {
        const replica = replicas[i % 3]!;
        const session = sessions[i % sessions.length]!;
        const result = await checkout(replica.api, session.id, `c${i}`, [{ offerId: session.offerFor(random.pick(products)), quantity: '1' }]);
        // Two thirds pay; the rest never do, and their holds lapse.
        if (i % 3 !== 0) await orderMutation(replicas[(i + 1) % 3]!.api, op.CONFIRM_PAYMENT, result.customerOrder!.id);
      }),
    );

    a.clock.set('2026-11-23T18:30:00+01:00');
    await Promise.all(replicas.flatMap((r) => [r.app.scheduler.runOnce(), r.app.scheduler.runOnce()]));

    const { rows: sessionsLeft } = await a.db.query('SELECT count(*)::int AS n FROM sales_session WHERE completed_at IS NULL AND closes_at <= $1', [a.clock.now()]);
    expect(sessionsLeft[0].n).toBe(0);
    const { rows: expired } = await a.db.query("SELECT count(*)::int AS n FROM customer_order WHERE status = 'EXPIRED' AND sales_session_id = ANY($1)", [
      sessions.map((s) => s.id),
    ]);
    expect(expired[0].n).toBe(30);
    await expectStockConsistent(a.db);
    await expectStatesConsistent(a.db);
    const committed = await Promise.all(products.map(async (p) => Number((await stockOf(a.api, p)).committed)));
    expect(committed.reduce((x, y) => x + y, 0)).toBe(60);

    const { rows: events } = await a.db.query("SELECT count(*)::int AS n FROM domain_event WHERE producer_id = $1 AND kind IN ('HELD', 'RELEASED', 'COMPLETED')", [producer]);
    await waitFor('every webhook delivery', async () => (receiver.received.length >= events[0].n ? true : undefined));
    expect(receiver.received).toHaveLength(events[0].n);
    expect(new Set(receiver.received.map((r) => r.eventId)).size).toBe(events[0].n);
    expectInOrderPerProducerOrder(receiver.received);
  });
});
