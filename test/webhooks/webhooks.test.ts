import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KEPT_ATTEMPTS } from '../../src/modules/webhooks/webhook-dispatcher.js';
import { verifySignature } from '../../src/modules/webhooks/webhook-signature.js';
import * as op from '../support/operations.js';
import { adjustStock, checkout, createProducer, createProduct, orderMutation } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { LOOPBACK_RECEIVERS_ENV, startWebhookReceiver } from '../support/webhook-receiver.js';
import { openSessionWorld } from '../support/world.js';

const REGISTER = `mutation ($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { webhook { id url kinds active } secret userErrors { field message code } } }`;

const DELIVERIES = `query ($id: ID!) { webhook(id: $id) { deliveries(first: 20) {
  id eventId status attemptCount deliveredAt attempts { statusCode error } } } }`;

describe('webhooks', () => {
  let t: TestApp;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  beforeEach(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: LOOPBACK_RECEIVERS_ENV });
    receiver = await startWebhookReceiver();
  });
  afterEach(async () => {
    await t.stop();
    await receiver.close();
  });

  async function register(input: Record<string, unknown>) {
    const { registerWebhook } = await t.api.data<{
      registerWebhook: { webhook: { id: string } | null; secret: string | null; userErrors: { code: string; field: string[] }[] };
    }>(REGISTER, { input });
    return registerWebhook;
  }

  /** Moves time on and runs the scheduler until the receiver has accepted `count` deliveries. */
  async function deliverAll(count: number) {
    for (let i = 0; i < 30 && receiver.accepted().length < count; i += 1) {
      t.clock.advance({ seconds: 30 });
      await t.app.scheduler.runOnce();
      // The tick only starts the dispatcher; it sends on its own.
      await t.app.webhooks.idle();
    }
    return receiver.accepted();
  }

  it('delivers every event, signed and in order, to a receiver that fails at first', async () => {
    const w = await openSessionWorld(t.api);
    const registered = await register({ url: receiver.url, kinds: ['HELD', 'RELEASED', 'COMPLETED'], producerId: w.jean });
    expect(registered.userErrors).toEqual([]);
    expect(registered.secret).toMatch(/^[0-9a-f]{64}$/);
    receiver.state.failures = 3;

    const a = await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '2' }]);
    await orderMutation(t.api, op.FAIL_PAYMENT, a.customerOrder!.id);
    const b = await checkout(t.api, w.session.id, 'paul', [{ offerId: w.session.offerFor(w.carrots), quantity: '1.5' }]);
    await orderMutation(t.api, op.CONFIRM_PAYMENT, b.customerOrder!.id);
    t.clock.set('2026-11-23T20:00:00+01:00');
    await t.app.scheduler.runOnce();

    const accepted = await deliverAll(4);
    const bodies = accepted.map((r) => JSON.parse(r.body));
    expect(bodies.map((e) => [e.kind, e.quantity])).toEqual([['HELD', '2'], ['RELEASED', '2'], ['HELD', '1.5'], ['COMPLETED', '1.5']]);
    expect(bodies.every((e) => e.producerId === w.jean && e.productId === w.carrots && e.hubId === w.hub)).toBe(true);
    const ids = bodies.map((e) => BigInt(e.id));
    expect([...ids].sort((x, y) => (x < y ? -1 : 1))).toEqual(ids);
    // Each event was accepted exactly once, and nothing out of order was ever sent.
    expect(new Set(accepted.map((r) => r.eventId)).size).toBe(4);
    const sentOrder = receiver.received.map((r) => BigInt(r.eventId));
    expect(sentOrder).toEqual([...sentOrder].sort((x, y) => (x < y ? -1 : 1)));
    for (const r of receiver.received) {
      expect(verifySignature(registered.secret!, r.body, r.signature, t.clock.now(), 86_400)).toBe(true);
      expect(verifySignature(registered.secret!, `${r.body} `, r.signature, t.clock.now(), 86_400)).toBe(false);
    }

    const { webhook } = await t.api.data<{ webhook: { deliveries: { eventId: string; status: string; attemptCount: number; attempts: { statusCode: number }[] }[] } }>(
      DELIVERIES,
      { id: registered.webhook!.id },
    );
    const first = webhook.deliveries.at(-1)!;
    expect(first).toMatchObject({ status: 'DELIVERED', attemptCount: 4 });
    expect(first.attempts.map((x) => x.statusCode)).toEqual([503, 503, 503, 204]);
    expect(webhook.deliveries.every((d) => d.status === 'DELIVERED')).toBe(true);
  });

  it('keeps undelivered events across a restart and sends them once the receiver recovers', async () => {
    const w = await openSessionWorld(t.api);
    await register({ url: receiver.url, kinds: ['HELD'], hubId: w.hub });
    receiver.state.failures = 1_000;
    await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.eggs), quantity: '6' }]);
    await checkout(t.api, w.session.id, 'paul', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
    await waitFor('a first failed attempt', async () => (receiver.received.length > 0 ? true : undefined));

    await t.app.stop();
    receiver.state.failures = 0;
    const restarted = await startTestApp({ databaseUrl: t.databaseUrl, clock: t.clock, env: LOOPBACK_RECEIVERS_ENV });
    const old = t;
    t = restarted;
    await old.db.end();

    const accepted = await deliverAll(2);
    expect(accepted.map((r) => JSON.parse(r.body).kind)).toEqual(['HELD', 'HELD']);
    expect(new Set(accepted.map((r) => JSON.parse(r.body).productId))).toEqual(new Set([w.eggs, w.carrots]));
  });

  it(`keeps a failing delivery's newest ${KEPT_ATTEMPTS} attempts, and counts them all`, async () => {
    const w = await openSessionWorld(t.api);
    const registered = await register({ url: receiver.url, kinds: ['HELD'], producerId: w.jean });
    expect(registered.userErrors).toEqual([]);
    const failures = KEPT_ATTEMPTS + 5;
    receiver.state.failures = failures;
    await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
    // Retries wait at most an hour: two hours on, each tick makes one more attempt.
    for (let i = 0; i <= failures + 5 && receiver.accepted().length === 0; i += 1) {
      t.clock.advance({ hours: 2 });
      await t.app.scheduler.runOnce();
      await t.app.webhooks.idle();
    }
    expect(receiver.accepted()).toHaveLength(1);
    const { webhook } = await t.api.data<{ webhook: { deliveries: { status: string; attemptCount: number; attempts: { statusCode: number }[] }[] } }>(
      DELIVERIES, { id: registered.webhook!.id },
    );
    const [delivery] = webhook.deliveries;
    expect(delivery).toMatchObject({ status: 'DELIVERED', attemptCount: failures + 1 });
    expect(delivery!.attempts.map((a) => a.statusCode)).toEqual([...Array(KEPT_ATTEMPTS - 1).fill(503), 204]);
  });

  it('refuses a bad registration and registers nothing', async () => {
    const result = await register({ url: 'ftp://example.org', kinds: ['HELD', 'PICKED'], secret: 'short' });
    expect(result.webhook).toBeNull();
    expect(result.userErrors.map((e) => [e.code, e.field])).toEqual([
      ['INVALID_INPUT', ['url']],
      ['INVALID_INPUT', ['kinds', '1']],
      ['INVALID_INPUT', ['secret']],
    ]);
    const { rows } = await t.db.query('SELECT count(*)::int AS n FROM webhook');
    expect(rows[0].n).toBe(0);
  });

  it('counts a chosen secret in characters, as the README does: 200 emoji are 200', async () => {
    const tooLong = await register({ url: receiver.url, kinds: ['HELD'], secret: '🔑'.repeat(201) });
    expect(tooLong.userErrors.map((e) => [e.code, e.field])).toEqual([['INVALID_INPUT', ['secret']]]);
    const longest = await register({ url: receiver.url, kinds: ['HELD'], secret: '🔑'.repeat(200) });
    expect(longest.userErrors).toEqual([]);
    const { rows } = await t.db.query('SELECT char_length(secret) AS n FROM webhook');
    expect(rows).toEqual([{ n: 200 }]);
  });
});


describe('event retention', () => {
  it('forgets events after EVENT_RETENTION, but never one a webhook still has to receive', async () => {
    const t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { EVENT_RETENTION: 'P1D', ...LOOPBACK_RECEIVERS_ENV } });
    try {
      const w = await openSessionWorld(t.api);
      await t.api.data(REGISTER, { input: { url: 'http://127.0.0.1:9/unreachable', kinds: ['HELD'], producerId: w.marie } });
      for (const [customer, product] of [['ali', w.carrots], ['paul', w.eggs]] as const) {
        const order = await checkout(t.api, w.session.id, customer, [{ offerId: w.session.offerFor(product), quantity: '1' }]);
        await orderMutation(t.api, op.CONFIRM_PAYMENT, order.customerOrder!.id);
      }
      await waitFor('events to be positioned', async () => {
        const { rows } = await t.db.query('SELECT count(*)::int AS n FROM domain_event WHERE position IS NULL');
        return rows[0].n === 0 ? true : undefined;
      });
      // The session closes and completes too: its SESSION_CLOSED and COMPLETED events, new, are kept.
      t.clock.advance({ days: 2 });
      await t.app.scheduler.runOnce();
      const { rows } = await t.db.query("SELECT kind, product_id FROM domain_event WHERE kind NOT IN ('COMPLETED', 'SESSION_CLOSED')");
      // Only Marie's HELD event survives: its delivery to the unreachable endpoint is still pending.
      expect(rows).toEqual([{ kind: 'HELD', product_id: w.eggs }]);
    } finally {
      await t.stop();
    }
  });

  it('pages back through a webhook\'s deliveries, and shows those still pending however many came after', async () => {
    const t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    try {
      const producer = await createProducer(t.api, 'Jean');
      const carrots = await createProduct(t.api, producer, { name: 'Carrots', onHand: '5' });
      // The stock's ADJUSTED event positioned first: a webhook gets every event positioned after
      // it is registered, and a busy machine could position this one after, adding a delivery.
      await waitFor('the events to be positioned', async () => {
        const { rows } = await t.db.query('SELECT count(*)::int AS n FROM domain_event WHERE position IS NULL');
        return rows[0].n === 0 ? true : undefined;
      });
      const { registerWebhook } = await t.api.data<{ registerWebhook: { webhook: { id: string } } }>(REGISTER, {
        input: { url: 'https://trader.example.org/hooks', kinds: ['ADJUSTED'], producerId: producer },
      });
      const webhook = registerWebhook.webhook.id;
      // Three old deliveries still failing, then nine that went through: twelve, so their ids have
      // one digit and two (numbers, not text: "9" sorts after "12").
      const { rows } = await t.db.query<{ id: string; status: string }>(
        `WITH events AS (
           INSERT INTO domain_event (kind, producer_id, product_id, quantity, available, created_at, position)
           SELECT 'ADJUSTED', $1, $2, 1, 1, now(), -g FROM generate_series(1, 12) g RETURNING position)
         INSERT INTO webhook_delivery (webhook_id, event_position, ordering_key, body, status, attempt_count, next_attempt_at, created_at)
         SELECT $3, position, $2, '{}', CASE WHEN position >= -3 THEN 'PENDING' ELSE 'DELIVERED' END, 1, now(), now()
           FROM events ORDER BY position DESC
         RETURNING id::text, status`,
        [producer, carrots, webhook],
      );
      const newestFirst = rows.map((r) => r.id).reverse();
      const page = async (args: string) =>
        (await t.api.data<{ webhook: { deliveries: { id: string; status: string }[] } }>(`query ($id: ID!) { webhook(id: $id) { deliveries(${args}) { id status } } }`, { id: webhook }))
          .webhook.deliveries;

      const seen: string[] = [];
      for (let next = await page('first: 4'); next.length > 0; next = await page(`first: 4, before: "${seen.at(-1)}"`)) seen.push(...next.map((d) => d.id));
      expect(seen).toEqual(newestFirst);
      expect(await page('pendingOnly: true')).toEqual(newestFirst.slice(9).map((id) => ({ id, status: 'PENDING' })));
      // A cursor that is none of this webhook's deliveries is a bad request, not an empty page.
      for (const before of ['x', '999999']) {
        const stray = await t.api.request(`query ($id: ID!) { webhook(id: $id) { deliveries(before: "${before}") { id } } }`, { id: webhook });
        expect(stray.errors?.[0]?.extensions?.code, before).toBe('BAD_USER_INPUT');
      }
    } finally {
      await t.stop();
    }
  });

  it('forgets a backlog of more than two batches (5,000 rows each) completely', async () => {
    const t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { EVENT_RETENTION: 'P1D', ...LOOPBACK_RECEIVERS_ENV } });
    try {
      const producer = await createProducer(t.api, 'Jean');
      const carrots = await createProduct(t.api, producer, { name: 'Carrots', onHand: '5' });
      const { registerWebhook } = await t.api.data<{ registerWebhook: { webhook: { id: string } } }>(REGISTER, {
        input: { url: 'http://127.0.0.1:9/unreachable', kinds: ['ADJUSTED'], producerId: producer },
      });
      // A year of history nobody pruned: more than two batches (5,000) of old events, each delivered to the webhook once.
      await t.db.query(
        `WITH old AS (
           INSERT INTO domain_event (kind, producer_id, product_id, quantity, available, created_at, position)
           SELECT 'ADJUSTED', $1, $2, 1, 1, '2025-11-23T09:00:00+01:00', -g FROM generate_series(1, 12001) g RETURNING position)
         INSERT INTO webhook_delivery (webhook_id, event_position, ordering_key, body, status, attempt_count, next_attempt_at, created_at)
         SELECT $3, old.position, $2, '{}', 'DELIVERED', 1, '2025-11-23T09:00:00+01:00', '2025-11-23T09:00:00+01:00' FROM old`,
        [producer, carrots, registerWebhook.webhook.id],
      );
      const old = async (table: string) =>
        (await t.db.query(`SELECT count(*)::int AS n FROM ${table} WHERE created_at < '2026-11-22T09:00:00+01:00'`)).rows[0].n as number;
      expect([await old('domain_event'), await old('webhook_delivery')]).toEqual([12001, 12001]);
      t.clock.advance({ minutes: 10 });
      await t.app.scheduler.runOnce();
      expect([await old('domain_event'), await old('webhook_delivery')]).toEqual([0, 0]);
    } finally {
      await t.stop();
    }
  });

  it('forgets on each replica at most every five minutes, not on every tick', async () => {
    const t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { EVENT_RETENTION: 'PT1H' } });
    try {
      await t.app.scheduler.runOnce(); // pruned now, at 09:00
      const producer = await createProducer(t.api, 'Jean');
      const carrots = await createProduct(t.api, producer, { name: 'Carrots', onHand: '5' });
      await adjustStock(t.api, carrots, '1', 'found more'); // the newest event, kept whatever its age
      const events = async () => {
        const { rows } = await t.db.query('SELECT count(*)::int AS n FROM domain_event');
        return rows[0].n as number;
      };
      await waitFor('the events to be positioned', async () => {
        const { rows } = await t.db.query('SELECT count(*)::int AS n FROM domain_event WHERE position IS NULL');
        return rows[0].n === 0 ? true : undefined;
      });

      // 10:02: the first event is past the retention, but the last pruning was two minutes ago.
      t.clock.set('2026-11-23T09:58:00+01:00');
      await t.app.scheduler.runOnce();
      t.clock.set('2026-11-23T10:02:00+01:00');
      await t.app.scheduler.runOnce();
      expect(await events()).toBe(2);

      t.clock.set('2026-11-23T10:03:00+01:00');
      await t.app.scheduler.runOnce();
      expect(await events()).toBe(1);
    } finally {
      await t.stop();
    }
  });

  it('finds what to forget through indexes, not by reading the whole event log and delivery history', async () => {
    const t = await startTestApp();
    const client = await t.db.connect();
    try {
      await client.query('BEGIN');
      // Tables this small are read whole whatever indexes exist; forbid that to see which could be used.
      await client.query('SET LOCAL enable_seqscan = off');
      // The predicates retention deletes by (src/events/event-retention.ts), and the index each needs.
      const plans = [
        ['DELETE FROM domain_event e WHERE e.position IS NOT NULL AND e.created_at < now()', 'domain_event_created_at_index'],
        ["DELETE FROM webhook_delivery WHERE status = 'DELIVERED' AND created_at < now()", 'webhook_delivery_delivered_created_at'],
      ];
      for (const [statement, index] of plans) {
        const { rows } = await client.query(`EXPLAIN ${statement}`);
        const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        expect(plan).toMatch(new RegExp(`Index Scan (on|using) ${index} `));
        expect(plan).not.toMatch(/Seq Scan/);
      }
    } finally {
      await client.query('ROLLBACK');
      client.release();
      await t.stop();
    }
  });
});
