// How webhook deliveries share the server with everything else: a receiver that never answers
// holds up neither the scheduler nor other receivers, retries wait from the end of the attempt,
// and a removed webhook is sent nothing more.
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { receiverOf, WebhookDispatcher } from '../../src/modules/webhooks/webhook-dispatcher.js';
import * as op from '../support/operations.js';
import { checkout, createProducer, createProduct, orderMutation, sessionView } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { LOOPBACK_RECEIVERS_ENV, startWebhookReceiver } from '../support/webhook-receiver.js';
import { openSessionWorld } from '../support/world.js';

type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

const REGISTER = `mutation ($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { webhook { id } userErrors { field message code } } }`;
const REMOVE = `mutation ($input: RemoveWebhookInput!) { removeWebhook(input: $input) { userErrors { code } } }`;

describe('webhook dispatch', () => {
  let t: TestApp;
  const receivers: Receiver[] = [];
  const receiver = async (state: Partial<Receiver['state']> = {}) => {
    const r = await startWebhookReceiver();
    Object.assign(r.state, state);
    receivers.push(r);
    return r;
  };
  beforeEach(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: LOOPBACK_RECEIVERS_ENV });
  });
  afterEach(async () => {
    await t.stop();
    for (const r of receivers.splice(0)) await r.close();
  });

  async function register(input: Record<string, unknown>): Promise<string> {
    const { registerWebhook } = await t.api.data<{ registerWebhook: { webhook: { id: string }; userErrors: unknown[] } }>(REGISTER, { input });
    expect(registerWebhook.userErrors).toEqual([]);
    return registerWebhook.webhook.id;
  }

  const hanging = (r: Receiver, n: number) => waitFor(`${n} requests hanging at the receiver`, async () => (r.hanging() === n ? true : undefined));

  it('completes a session while a receiver leaves its delivery unanswered', async () => {
    const w = await openSessionWorld(t.api);
    const silent = await receiver({ hang: true });
    await register({ url: silent.url, kinds: ['HELD', 'COMPLETED'], producerId: w.jean });
    const order = await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '2' }]);
    await orderMutation(t.api, op.CONFIRM_PAYMENT, order.customerOrder!.id);
    await hanging(silent, 1);

    t.clock.set('2026-11-23T20:30:00+01:00');
    await t.app.scheduler.runOnce();
    expect((await sessionView(t.api, w.session.id)).status).toBe('COMPLETED');
    // The tick did not wait for the receiver: its HELD delivery is still unanswered.
    expect(silent.hanging()).toBe(1);
    expect(silent.received).toEqual([]);

    // Once it answers, it gets both events, in order.
    silent.state.hang = false;
    silent.answerHanging();
    await waitFor('both deliveries', async () => (silent.accepted().length === 2 ? true : undefined));
    expect(silent.accepted().map((r) => JSON.parse(r.body).kind)).toEqual(['HELD', 'COMPLETED']);
  });

  it('keeps sending to other receivers while one hangs, and gives a silent one only a few requests at once', async () => {
    const w = await openSessionWorld(t.api);
    const silent = await receiver({ hang: true });
    const healthy = await receiver();
    // Twenty products: twenty independent deliveries for the silent receiver, each its own ordering key.
    await register({ url: silent.url, kinds: ['ADJUSTED', 'HELD', 'RELEASED'] });
    for (let i = 0; i < 20; i += 1) await createProduct(t.api, w.jean, { name: `Squash ${i}`, onHand: '1' });
    await hanging(silent, 4);

    await register({ url: healthy.url, kinds: ['HELD', 'RELEASED'], producerId: w.marie });
    const order = await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.eggs), quantity: '6' }]);
    await orderMutation(t.api, op.FAIL_PAYMENT, order.customerOrder!.id);
    // HELD, then RELEASED of the same producer order: the second goes out once the first is answered.
    await waitFor('both deliveries to the healthy receiver', async () => (healthy.accepted().length === 2 ? true : undefined));
    expect(healthy.accepted().map((r) => JSON.parse(r.body).kind)).toEqual(['HELD', 'RELEASED']);

    // Meanwhile the silent receiver was sent four requests, and is still sitting on all of them.
    expect(silent.requests()).toBe(4);
    expect(silent.hanging()).toBe(4);
  });

  // README, "For operators": one receiver is "the host and port the URL names, however it is written".
  it('counts a receiver by the host and port its URL names, however it is written', () => {
    const spellings = ['https://Hooks.Example.org/a', 'https://hooks.example.org./b?c', 'https://hooks.example.org:443/'];
    expect(new Set(spellings.map(receiverOf)).size).toBe(1);
    // An IPv4 address written as IPv6 is the IPv4 address, as the address checks and the socket take it.
    expect(new Set(['https://93.184.216.34/a', 'https://[::ffff:93.184.216.34]/b', 'https://[::FFFF:5db8:d822]:443/'].map(receiverOf)).size).toBe(1);
    expect(receiverOf('https://[2001:DB8:0::1]/')).toBe(receiverOf('https://[2001:db8::1]:443/'));
    const others = ['http://hooks.example.org/a', 'https://hooks.example.org:8443/a', 'https://other.example.org/a'];
    expect(new Set([...others, spellings[0]!].map(receiverOf)).size).toBe(4);
  });

  // README, "For operators": at most 4 at once to one receiver, and for one enterprise's webhooks.
  it.each([
    // A trader platform that four producers send their events to goes silent.
    ['gives one receiver only a few requests at once, however many enterprises send to it', { producers: 4, silentReceivers: 1 }],
    // A producer with a webhook per integration, each on a receiver of its own, all silent.
    ["gives one enterprise's webhooks only a few requests at once, however many receivers they name", { producers: 1, silentReceivers: 4 }],
  ])('%s, and other enterprises go on', async (_what, { producers, silentReceivers }) => {
    const silent = await Promise.all(Array.from({ length: silentReceivers }, () => receiver({ hang: true })));
    const healthy = await receiver();
    const inAll = (count: (r: Receiver) => number) => silent.reduce((n, r) => n + count(r), 0);
    // Four webhooks, each registered with its producer's own token; eight ordering keys each.
    const farms = await Promise.all(Array.from({ length: producers }, (_, i) => createProducer(t.api, `Noisy farm ${i}`)));
    for (let i = 0; i < 4; i += 1) {
      const farm = farms[i % producers]!;
      const asFarm = await t.as({ role: 'producer', producerId: farm });
      const { registerWebhook } = await asFarm.data<{ registerWebhook: { userErrors: unknown[] } }>(REGISTER, {
        input: { url: `${silent[i % silentReceivers]!.url}?integration=${i}`, kinds: ['ADJUSTED'] },
      });
      expect(registerWebhook.userErrors).toEqual([]);
    }
    for (let i = 0; i < 8; i += 1) {
      for (const farm of farms) await createProduct(t.api, farm, { name: `Squash ${i}`, onHand: '1' });
    }
    await waitFor('4 requests hanging', async () => (inAll((r) => r.hanging()) === 4 ? true : undefined));

    const other = await createProducer(t.api, 'Other farm');
    await register({ url: healthy.url, kinds: ['ADJUSTED'], producerId: other });
    await createProduct(t.api, other, { name: 'Kale', onHand: '3' });
    await waitFor('the healthy endpoint to get its delivery', async () => (healthy.accepted().length === 1 ? true : undefined));
    // It did not wait for a silent request to time out: those sent are the first four, all still hanging.
    expect(inAll((r) => r.requests())).toBe(4);
    expect(inAll((r) => r.hanging())).toBe(4);
  });

  /** A dispatcher of the test's own, woken once (the test stops the app's before it queues anything): what its one claim takes. */
  async function oneClaim(): Promise<{ webhook: string; claimed: number }[]> {
    const dispatcher = new WebhookDispatcher(t.app.orm, t.clock, pino({ level: 'silent' }), { allowPrivateAddresses: true });
    try {
      dispatcher.wake();
      await (dispatcher as unknown as { pump: { idle(): Promise<void> } }).pump.idle();
      const { rows } = await t.db.query<{ webhook: string; claimed: number }>(
        'SELECT webhook_id AS webhook, count(*)::int AS claimed FROM webhook_delivery WHERE attempt_count > 0 GROUP BY webhook_id',
      );
      return rows;
    } finally {
      await dispatcher.stop();
    }
  }

  const queued = (n: number) =>
    waitFor(`${n} deliveries queued`, async () => ((await t.db.query('SELECT 1 FROM webhook_delivery')).rowCount === n ? true : undefined));

  it.each([
    ['a password with an unencoded @', (port: string) => `http://user:p@ss@127.0.0.1:${port}/hooks`],
    ['no slashes after the scheme', (port: string) => `http:127.0.0.1:${port}/hooks`],
    ['a backslash for the path', (port: string) => `http://127.0.0.1:${port}\\hooks`],
    ['a shortened IPv4 address', (port: string) => `http://127.1:${port}/hooks`],
    ['upper case and the default path', (port: string) => `HTTP://127.0.0.1:${port}`],
  ])('counts a receiver as one however its URL is written: %s', async (_how, spelling) => {
    await t.app.webhooks.stop();
    const silent = await receiver({ hang: true });
    const urls = [silent.url, spelling(new URL(silent.url).port)];
    const farms = [await createProducer(t.api, 'Farm A'), await createProducer(t.api, 'Farm B')];
    const webhooks: string[] = [];
    for (const [i, farm] of farms.entries()) webhooks.push(await register({ url: urls[i], kinds: ['ADJUSTED'], producerId: farm }));
    for (let i = 0; i < 4; i += 1) for (const farm of farms) await createProduct(t.api, farm, { name: `Squash ${i}`, onHand: '1' });
    await queued(8);
    const claimed = await oneClaim();
    expect(claimed.reduce((n, c) => n + c.claimed, 0)).toBe(4);
  });

  it("takes another enterprise's first delivery in the same claim when a cap holds back the rows before it", async () => {
    await t.app.webhooks.stop();
    const silent = await receiver({ hang: true });
    const healthy = await receiver();
    const [a, b] = [await createProducer(t.api, 'Farm A'), await createProducer(t.api, 'Farm B')];
    // Farm A: four deliveries to a silent receiver, then four more and four to the healthy one; Farm B: one to the healthy one.
    await register({ url: silent.url, kinds: ['ADJUSTED'], producerId: a });
    for (let i = 0; i < 4; i += 1) await createProduct(t.api, a, { name: `Squash ${i}`, onHand: '1' });
    await register({ url: `${healthy.url}?a`, kinds: ['ADJUSTED'], producerId: a });
    for (let i = 4; i < 8; i += 1) await createProduct(t.api, a, { name: `Squash ${i}`, onHand: '1' });
    const toB = await register({ url: `${healthy.url}?b`, kinds: ['ADJUSTED'], producerId: b });
    await createProduct(t.api, b, { name: 'Kale', onHand: '1' });
    await queued(13);
    // Farm A's four oldest fill its share; the healthy receiver and Farm B have nothing in flight.
    const claimed = await oneClaim();
    expect(claimed.find((c) => c.webhook === toB)?.claimed).toBe(1);
    expect(claimed.reduce((n, c) => n + c.claimed, 0)).toBe(5);
  });

  it("takes an enterprise's first delivery to an idle receiver before another's second, whatever its full receiver holds back", async () => {
    await t.app.webhooks.stop();
    const [h1, h2, h3] = [await receiver({ hang: true }), await receiver({ hang: true }), await receiver({ hang: true })];
    const [z, a, c] = [await createProducer(t.api, 'Farm Z'), await createProducer(t.api, 'Farm A'), await createProducer(t.api, 'Farm C')];
    // Farm Z fills receiver h1 (4 in flight) in a dispatcher with 6 slots: 2 stay free.
    await register({ url: h1.url, kinds: ['ADJUSTED'], producerId: z });
    for (let i = 0; i < 4; i += 1) await createProduct(t.api, z, { name: `Z ${i}`, onHand: '1' });
    await queued(4);
    const dispatcher = new WebhookDispatcher(t.app.orm, t.clock, pino({ level: 'silent' }), { allowPrivateAddresses: true, concurrency: 6 });
    const claimed = async () => {
      dispatcher.wake();
      await (dispatcher as unknown as { pump: { idle(): Promise<void> } }).pump.idle();
      return (await t.db.query<{ webhook: string; claimed: number }>(
        'SELECT webhook_id AS webhook, count(*)::int AS claimed FROM webhook_delivery WHERE attempt_count > 0 GROUP BY webhook_id',
      )).rows;
    };
    try {
      expect(await claimed()).toEqual([expect.objectContaining({ claimed: 4 })]);
      // Farm A: older deliveries to the full h1 (held back), then one to the idle h2; Farm C: four to the idle h3.
      await register({ url: `${h1.url}?a`, kinds: ['ADJUSTED'], producerId: a });
      for (let i = 0; i < 2; i += 1) await createProduct(t.api, a, { name: `A ${i}`, onHand: '1' });
      await queued(6);
      const toH2 = await register({ url: h2.url, kinds: ['ADJUSTED'], producerId: a });
      await createProduct(t.api, a, { name: 'A 2', onHand: '1' }); // one to h1 (held back), one to h2
      await queued(8);
      await register({ url: h3.url, kinds: ['ADJUSTED'], producerId: c });
      for (let i = 0; i < 4; i += 1) await createProduct(t.api, c, { name: `C ${i}`, onHand: '1' });
      await queued(12);
      // One claim for the 2 free slots: Farm A's first to h2 and Farm C's first, not Farm C's first two.
      const rows = await claimed();
      expect(rows.reduce((n, r) => n + r.claimed, 0)).toBe(6);
      expect(rows.find((r) => r.webhook === toH2)?.claimed).toBe(1);
    } finally {
      await dispatcher.stop();
    }
  });

  it('warns of no leak with every slot waiting for an answer', async () => {
    await t.app.webhooks.stop();
    const dispatcher = new WebhookDispatcher(t.app.orm, t.clock, pino({ level: 'silent' }), { allowPrivateAddresses: true, perReceiver: 16 });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    try {
      const producer = await createProducer(t.api, 'Busy farm');
      const silent = await receiver({ hang: true });
      await register({ url: silent.url, kinds: ['ADJUSTED'], producerId: producer });
      for (let i = 0; i < 16; i += 1) await createProduct(t.api, producer, { name: `Beets ${i}`, onHand: '1' });
      await queued(16);
      dispatcher.wake();
      await hanging(silent, 16);
      // Node emits warnings on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await dispatcher.stop();
    }
  });

  it('waits for the next try from the end of a failed attempt, a little longer at random', async () => {
    const producer = await createProducer(t.api, 'Paul');
    const slow = await receiver({ hang: true, failures: 100 });
    const webhook = await register({ url: slow.url, kinds: ['ADJUSTED'], producerId: producer });
    for (let i = 0; i < 4; i += 1) await createProduct(t.api, producer, { name: `Leeks ${i}`, onHand: '1' });
    await hanging(slow, 4);

    // The receiver takes ten minutes to answer 503.
    t.clock.advance({ minutes: 10 });
    const answeredAt = t.clock.now().getTime();
    slow.answerHanging();
    await t.app.webhooks.idle();

    const { rows } = await t.db.query<{ next: Date; attempts: number }>(
      'SELECT next_attempt_at AS next, attempt_count AS attempts FROM webhook_delivery WHERE webhook_id = $1',
      [webhook],
    );
    expect(rows.map((r) => r.attempts)).toEqual([1, 1, 1, 1]);
    const delays = rows.map((r) => r.next.getTime() - answeredAt);
    // The first retry: 1 s after the answer, up to a fifth more, not the same for everyone.
    for (const delay of delays) {
      expect(delay).toBeGreaterThanOrEqual(1000);
      expect(delay).toBeLessThanOrEqual(1200);
    }
    expect(new Set(delays).size).toBeGreaterThan(1);
  });

  it('on stop, cuts short what a silent receiver holds, and has recorded it when stop returns', async () => {
    const producer = await createProducer(t.api, 'Rose');
    const silent = await receiver({ hang: true });
    const webhook = await register({ url: silent.url, kinds: ['ADJUSTED'], producerId: producer });
    await createProduct(t.api, producer, { name: 'Chard', onHand: '2' });
    await hanging(silent, 1);

    // Hold the attempts table, to see stop() wait for the record of the attempt it cut short.
    const lock = await t.db.connect();
    let stopped = false;
    let stopping: Promise<void>;
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE webhook_attempt IN ACCESS EXCLUSIVE MODE');
      stopping = t.app.webhooks.stop().then(() => void (stopped = true));
      await waitFor('the record to wait for the lock', async () => {
        const { rows } = await t.db.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO webhook_attempt%'");
        return rows.length > 0 ? true : undefined;
      });
      expect(stopped).toBe(false);
    } finally {
      await lock.query('ROLLBACK');
      lock.release();
    }
    await stopping;
    const { rows } = await t.db.query(
      'SELECT d.status, a.error FROM webhook_delivery d JOIN webhook_attempt a ON a.delivery_id = d.id WHERE d.webhook_id = $1',
      [webhook],
    );
    // Still pending: the next start, or another replica, sends it again.
    expect(rows).toEqual([{ status: 'PENDING', error: 'the server stopped before the receiver answered' }]);
  });

  it('sends nothing to a removed webhook, even what was queued as it was removed, and drops it', async () => {
    const producer = await createProducer(t.api, 'Lise');
    const r = await receiver();
    const webhook = await register({ url: r.url, kinds: ['ADJUSTED'], producerId: producer });
    await createProduct(t.api, producer, { name: 'Kale', onHand: '3' });
    await waitFor('the first delivery', async () => (r.accepted().length === 1 ? true : undefined));

    expect((await t.api.data<{ removeWebhook: { userErrors: unknown[] } }>(REMOVE, { input: { webhookId: webhook } })).removeWebhook.userErrors).toEqual([]);
    // The relay, reading the webhook as active just before the removal committed, queued one more.
    await t.db.query(
      `INSERT INTO webhook_delivery (webhook_id, event_position, ordering_key, body, status, attempt_count, next_attempt_at, created_at)
       SELECT $1, position, product_id, json_build_object('id', position::text, 'producerOrderId', null)::text, 'PENDING', 0, $2, $2
         FROM domain_event WHERE producer_id = $3 ORDER BY position DESC LIMIT 1`,
      [webhook, t.clock.now(), producer],
    );
    await t.app.webhooks.run();
    t.clock.advance({ minutes: 10 });
    await t.app.scheduler.runOnce();
    await t.app.webhooks.idle();
    expect(r.requests()).toBe(1);

    // Dropped rather than left pending for ever (which would also keep its event from being pruned).
    const { rows } = await t.db.query("SELECT count(*)::int AS n FROM webhook_delivery WHERE webhook_id = $1 AND status = 'PENDING'", [webhook]);
    expect(rows[0].n).toBe(0);
  });

  it('closes a connection a receiver keeps open once it has sat idle', async () => {
    // The app's own dispatcher stops; one with a short idle limit sends instead.
    await t.app.webhooks.stop();
    const dispatcher = new WebhookDispatcher(t.app.orm, t.clock, pino({ level: 'silent' }), { allowPrivateAddresses: true, idleSocketMs: 300 });
    try {
      const producer = await createProducer(t.api, 'Noor');
      const r = await receiver();
      r.keepIdleConnections();
      await register({ url: r.url, kinds: ['ADJUSTED'], producerId: producer });
      await createProduct(t.api, producer, { name: 'Leeks', onHand: '5' });
      await waitFor('the delivery to be queued', async () => {
        const { rows } = await t.db.query("SELECT 1 FROM webhook_delivery WHERE status = 'PENDING'");
        return rows.length > 0 ? true : undefined;
      });
      await dispatcher.run();
      expect(r.accepted()).toHaveLength(1);
      // Kept alive for the next delivery, then closed by the sender once idle, not held for ever.
      await waitFor('the idle connection to be closed', async () => (r.connections() === 0 ? true : undefined));
    } finally {
      await dispatcher.stop();
    }
  });

  it.each([
    // Not a whole answer within the attempt's time: failed, retried later like a silent receiver.
    ['sends the status and then nothing', 'headers', { requestTimeoutMs: 500 }, 'PENDING', 'no answer within 0.5 s'],
    // The status was the answer; the rest is cut off once past what is read. The attempt's own
    // timeout is a minute: only that cut can end it sooner.
    ['sends an answer without end', 'endless', { requestTimeoutMs: 60_000 }, 'DELIVERED', null],
  ] as const)('lets go of a receiver that %s', async (_how, stall, timeouts, status, error) => {
    await t.app.webhooks.stop();
    const dispatcher = new WebhookDispatcher(t.app.orm, t.clock, pino({ level: 'silent' }), { allowPrivateAddresses: true, ...timeouts });
    try {
      const producer = await createProducer(t.api, `Farm ${stall}`);
      const r = await receiver({ stall });
      await register({ url: r.url, kinds: ['ADJUSTED'], producerId: producer });
      // Three products, three deliveries that may go at once.
      for (const name of ['Leeks', 'Kale', 'Beets']) await createProduct(t.api, producer, { name, onHand: '5' });
      await waitFor('the deliveries to be queued', async () => {
        const { rows } = await t.db.query("SELECT count(*)::int AS n FROM webhook_delivery WHERE status = 'PENDING'");
        return rows[0].n === 3 ? true : undefined;
      });
      await dispatcher.run();
      const { rows } = await t.db.query(
        'SELECT d.status, a.error FROM webhook_delivery d JOIN webhook_attempt a ON a.delivery_id = d.id WHERE d.webhook_id = (SELECT id FROM webhook WHERE producer_id = $1)',
        [producer],
      );
      expect(rows).toEqual([1, 2, 3].map(() => ({ status, error })));
      // No connection is left open to read the rest of an answer.
      await waitFor('every connection to the receiver to be closed', async () => (r.connections() === 0 ? true : undefined));
    } finally {
      await dispatcher.stop();
    }
  });

  it("leaves another replica's claim alone when an attempt whose lease lapsed fails", async () => {
    await t.app.webhooks.stop();
    const silent = pino({ level: 'silent' });
    // A: a lease of a second, shorter than its attempts (5 s); B claims what A's lapsed lease lets go.
    const a = new WebhookDispatcher(t.app.orm, t.clock, silent, { allowPrivateAddresses: true, leaseSeconds: 1, requestTimeoutMs: 5_000 });
    const b = new WebhookDispatcher(t.app.orm, t.clock, silent, { allowPrivateAddresses: true, requestTimeoutMs: 60_000 });
    try {
      const producer = await createProducer(t.api, 'Farm');
      const r = await receiver({ hang: true });
      await register({ url: r.url, kinds: ['ADJUSTED'], producerId: producer });
      await createProduct(t.api, producer, { name: 'Leeks', onHand: '5' });
      await waitFor('the delivery to be queued', async () =>
        ((await t.db.query("SELECT 1 FROM webhook_delivery WHERE status = 'PENDING'")).rowCount === 1 ? true : undefined));
      const aAttempt = a.run();
      await hanging(r, 1);
      await waitFor("A's lease to lapse", async () =>
        ((await t.db.query('SELECT 1 FROM webhook_delivery WHERE claimed_until < clock_timestamp()')).rowCount === 1 ? true : undefined));
      void b.run();
      await hanging(r, 2);
      await aAttempt; // A's attempt fails (no answer within 5 s)
      const { rows } = await t.db.query('SELECT claimed_until > clock_timestamp() AS claimed, attempt_count FROM webhook_delivery');
      // B's claim stands: nobody else may send the delivery while B's attempt is on its way.
      expect(rows).toEqual([{ claimed: true, attempt_count: 2 }]);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  // README, "For operators": up to 16 deliveries at once, at most 4 to one receiver; other endpoints go on.
  it('sends a healthy endpoint its delivery while a failing endpoint works through its backlog', async () => {
    const failing = await receiver({ failures: 1_000_000 }); // answers 503 at once, every time
    const healthy = await receiver();

    // The failing endpoint's backlog: 150 events (each product's ADJUSTED, its own ordering
    // key), each tried once and failed; a minute later all 150 are due again.
    const farm = await createProducer(t.api, 'Farm');
    await register({ url: failing.url, kinds: ['ADJUSTED'], producerId: farm });
    for (let i = 0; i < 150; i += 1) await createProduct(t.api, farm, { name: `Leeks ${i}`, onHand: '1' });
    await waitFor('every backlog delivery to be tried once', async () => (failing.requests() === 150 ? true : undefined));
    await t.app.webhooks.idle();

    // Another producer's endpoint gets one event, which fails once (a blip): its retry is due
    // in a second, so it waits among the failing endpoint's retries.
    const other = await createProducer(t.api, 'Other farm');
    await register({ url: healthy.url, kinds: ['ADJUSTED'], producerId: other });
    healthy.state.failures = 1;
    await createProduct(t.api, other, { name: 'Kale', onHand: '3' });
    await waitFor('the healthy endpoint to be tried once', async () => (healthy.requests() === 1 ? true : undefined));
    await t.app.webhooks.idle();

    // A minute later all of them are due at once, the failing endpoint's 150 first.
    t.clock.advance({ minutes: 1 });
    t.app.webhooks.wake();
    await waitFor('the healthy endpoint to get its delivery', async () => (healthy.accepted().length === 1 ? true : undefined));

    // 16 slots, at most 4 of them for the failing endpoint: the healthy endpoint's delivery goes
    // out in the first claim, not after the failing one has been retried through most of its
    // backlog (about 90 retries when a claim took the oldest due rows whoever they were for).
    // While it is on its way, the failing endpoint's next claims go on: a few rounds of 4.
    const retriesBefore = failing.requests() - 151;
    expect(retriesBefore).toBeLessThanOrEqual(40);
  });
});
