// Webhooks cannot be pointed at the server's own machine or its private network (SSRF): not by
// the URL given at registration, and not by a name that resolves to a private address when the
// delivery connects (DNS rebinding). An operator can allow private receivers for pilots and tests.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/modules/webhooks/webhook-address.js';
import { systemResolver } from '../../src/modules/webhooks/webhook-address.js';
import { createProducer, createProduct } from '../support/scenarios.js';
import { startTestApp, type TestApp, type TestAppOptions } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { LOOPBACK_RECEIVERS_ENV, startWebhookReceiver } from '../support/webhook-receiver.js';

const REGISTER = `mutation ($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { webhook { id } userErrors { field message code } } }`;

const ATTEMPTS = `query ($id: ID!) { webhook(id: $id) { deliveries(first: 5) { status attempts { statusCode error } } } }`;

interface Registered {
  webhook: { id: string } | null;
  userErrors: { field: string[]; message: string; code: string }[];
}

/** Addresses of every kind a receiver must not have, as a hub or producer could write them. */
const PRIVATE_URLS = [
  // loopback, in the forms a URL parser accepts for it
  'http://127.0.0.1:5433/internal-admin',
  'http://127.1/',
  'http://2130706433/',
  'http://0x7f.0.0.1/',
  'http://[::1]:4000/graphql',
  // names of this machine
  'http://localhost:4000/graphql',
  'http://LocalHost./',
  'http://admin.localhost/',
  // RFC 1918 and IPv6 unique local
  'http://10.0.0.5/',
  'http://172.16.3.4/',
  'http://192.168.1.10/',
  'http://[fd00::1]/',
  // link-local, cloud metadata among them
  'http://169.254.169.254/latest/meta-data/',
  'http://[fe80::1]/',
  // unspecified (0.0.0.0 reaches this machine on Linux)
  'http://0.0.0.0:4000/',
  'http://[::]/',
  // carrier-grade NAT
  'http://100.64.0.1/',
  // multicast
  'http://224.0.0.1/',
  'http://[ff02::1]/',
  // IPv4-mapped IPv6 forms of the above
  'https://[::ffff:127.0.0.1]/',
  'https://[::ffff:169.254.169.254]/',
  'https://[::ffff:10.0.0.1]/',
];

describe('webhook addresses', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function start(options: TestAppOptions = {}): Promise<TestApp> {
    const t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', ...options });
    cleanups.push(() => t.stop());
    return t;
  }

  async function receiver() {
    const r = await startWebhookReceiver();
    cleanups.push(() => r.close());
    return r;
  }

  /** A resolver that answers for the names given and leaves every other name to the system. */
  function resolverFor(answers: Record<string, string[]>): Resolver & { asked: string[] } {
    const asked: string[] = [];
    const resolve = async (hostname: string, options: { family?: number; hints?: number }) => {
      asked.push(hostname);
      const addresses = answers[hostname];
      if (!addresses) return systemResolver(hostname, options);
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
    return Object.assign(resolve, { asked });
  }

  const register = async (t: TestApp, input: Record<string, unknown>) =>
    (await t.api.data<{ registerWebhook: Registered }>(REGISTER, { input })).registerWebhook;

  const webhookCount = async (t: TestApp) => (await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook')).rows[0]!.n;

  const attempts = async (t: TestApp, webhookId: string) =>
    (await t.api.data<{ webhook: { deliveries: { status: string; attempts: { statusCode: number | null; error: string | null }[] }[] } }>(
      ATTEMPTS,
      { id: webhookId },
    )).webhook.deliveries;

  /** Moves time past the next retry and lets the dispatcher send what came due. */
  async function retry(t: TestApp) {
    t.clock.advance({ minutes: 1 });
    await t.app.scheduler.runOnce();
    await t.app.webhooks.idle();
  }

  it('refuses to register a URL on a loopback, private, link-local or reserved address, and stores nothing', async () => {
    const t = await start();
    const producer = await createProducer(t.api, 'Jean');
    // As the reviewer did it: a producer's own token.
    const asProducer = await t.as({ role: 'producer', producerId: producer });
    for (const url of PRIVATE_URLS) {
      const { registerWebhook } = await asProducer.data<{ registerWebhook: Registered }>(REGISTER, { input: { url, kinds: ['ADJUSTED'] } });
      expect(registerWebhook.webhook, url).toBeNull();
      expect(registerWebhook.userErrors.map((e) => [e.code, e.field]), url).toEqual([['INVALID_INPUT', ['url']]]);
      expect(registerWebhook.userErrors[0]!.message, url).toMatch(/^must not point at this server or a private network: /);
    }
    expect(await webhookCount(t)).toBe(0);

    // A public receiver is still welcome, over plain http outside production.
    expect((await register(t, { url: 'http://hooks.trader.example/foodhub', kinds: ['ADJUSTED'] })).userErrors).toEqual([]);
    expect(await webhookCount(t)).toBe(1);
  });

  it('in production, requires https, except for private receivers the operator allowed', async () => {
    const strict = await start({ env: { NODE_ENV: 'production', LOG_LEVEL: 'warn' } });
    const plain = await register(strict, { url: 'http://hooks.trader.example/foodhub', kinds: ['HELD'] });
    expect(plain.userErrors.map((e) => [e.code, e.field, e.message])).toEqual([['INVALID_INPUT', ['url'], 'must be an https:// URL']]);
    expect(await webhookCount(strict)).toBe(0);
    expect((await register(strict, { url: 'https://hooks.trader.example/foodhub', kinds: ['HELD'] })).userErrors).toEqual([]);

    const pilot = await start({ env: { NODE_ENV: 'production', LOG_LEVEL: 'warn', ...LOOPBACK_RECEIVERS_ENV } });
    expect((await register(pilot, { url: 'http://127.0.0.1:8080/hooks', kinds: ['HELD'] })).userErrors).toEqual([]);
    expect((await register(pilot, { url: 'http://hooks.trader.example/foodhub', kinds: ['HELD'] })).userErrors.map((e) => e.message)).toEqual([
      'must be an https:// URL',
    ]);
  });

  it('does not connect to a name that resolves to a private address when the delivery is sent, and retries', async () => {
    const r = await receiver();
    const port = new URL(r.url).port;
    // hooks.trader.example passed registration as a public name; by the time of the delivery it
    // resolves to loopback, where the receiver (standing in for an internal service) listens.
    // mixed.trader.example answers a public address too: one private address is enough to refuse.
    const resolve = resolverFor({ 'hooks.trader.example': ['127.0.0.1'], 'mixed.trader.example': ['93.184.216.34', '127.0.0.1'] });
    const t = await start({ webhookResolver: resolve });
    const producer = await createProducer(t.api, 'Jean');
    const rebound = await register(t, { url: `http://hooks.trader.example:${port}/hooks/foodhub`, kinds: ['ADJUSTED'], producerId: producer });
    const mixed = await register(t, { url: `http://mixed.trader.example:${port}/hooks/foodhub`, kinds: ['ADJUSTED'], producerId: producer });
    expect([rebound.userErrors, mixed.userErrors]).toEqual([[], []]);

    await createProduct(t.api, producer, { name: 'Carrots', onHand: '5' });
    await waitFor('both deliveries to be attempted', async () => {
      const tried = [await attempts(t, rebound.webhook!.id), await attempts(t, mixed.webhook!.id)];
      return tried.every((d) => d[0]?.attempts.length === 1) ? tried : undefined;
    });
    await retry(t);

    for (const [webhook, host] of [[rebound, 'hooks.trader.example'], [mixed, 'mixed.trader.example']] as const) {
      const refusal = { statusCode: null, error: `refused: ${host} resolves to a private address` };
      // A failed attempt like any other: still pending, tried again on the usual schedule.
      expect(await attempts(t, webhook.webhook!.id)).toEqual([{ status: 'PENDING', attempts: [refusal, refusal] }]);
    }
    expect(resolve.asked).toContain('hooks.trader.example');
    expect(resolve.asked).toContain('mixed.trader.example');
    expect(r.requests()).toBe(0);
  });

  it('refuses, on delivery, a webhook registered on a private address before the check existed', async () => {
    const r = await receiver();
    const port = new URL(r.url).port;
    const t = await start();
    const producer = await createProducer(t.api, 'Jean');
    // Rows as the unchecked registration stored them. localhost goes through the system resolver;
    // an IP literal is never looked up, so it is checked before connecting.
    const byNameUrl = `http://localhost:${port}/internal-admin`;
    const byAddressUrl = `http://127.0.0.1:${port}/internal-admin`;
    const { rows } = await t.db.query<{ id: string; url: string }>(
      `INSERT INTO webhook (id, url, kinds, producer_id, secret, active, created_at)
       VALUES (gen_random_uuid(), $1, '{ADJUSTED}', $3, 'a-secret-of-sixteen', true, now()),
              (gen_random_uuid(), $2, '{ADJUSTED}', $3, 'a-secret-of-sixteen', true, now())
       RETURNING id::text, url`,
      [byNameUrl, byAddressUrl, producer],
    );
    const byName = rows.find((row) => row.url === byNameUrl)!;
    const byAddress = rows.find((row) => row.url === byAddressUrl)!;

    await createProduct(t.api, producer, { name: 'Carrots', onHand: '5' });
    await waitFor('both deliveries to be attempted', async () => {
      const tried = [await attempts(t, byName.id), await attempts(t, byAddress.id)];
      return tried.every((d) => d[0]?.attempts.length === 1) ? tried : undefined;
    });
    expect(await attempts(t, byName.id)).toEqual([
      { status: 'PENDING', attempts: [{ statusCode: null, error: 'refused: localhost resolves to a private address' }] },
    ]);
    expect(await attempts(t, byAddress.id)).toEqual([
      { status: 'PENDING', attempts: [{ statusCode: null, error: 'refused: 127.0.0.1 is a private address' }] },
    ]);
    expect(r.requests()).toBe(0);
  });

  it('in production, refuses on delivery a plain http:// webhook stored before https was required', async () => {
    const r = await receiver();
    const port = new URL(r.url).port;
    // The name reaches the receiver on loopback (private addresses allowed), so only the scheme is wrong.
    const resolve = resolverFor({ 'hooks.trader.example': ['127.0.0.1'] });
    const t = await start({ env: { NODE_ENV: 'production', LOG_LEVEL: 'warn', ...LOOPBACK_RECEIVERS_ENV }, webhookResolver: resolve });
    const producer = await createProducer(t.api, 'Jean');
    const { rows: [stored] } = await t.db.query<{ id: string }>(
      `INSERT INTO webhook (id, url, kinds, producer_id, secret, active, created_at)
       VALUES (gen_random_uuid(), $1, '{ADJUSTED}', $2, 'a-secret-of-sixteen', true, now()) RETURNING id::text`,
      [`http://hooks.trader.example:${port}/hooks/foodhub`, producer],
    );

    await createProduct(t.api, producer, { name: 'Carrots', onHand: '5' });
    await waitFor('the delivery to be attempted', async () => ((await attempts(t, stored!.id))[0]?.attempts.length === 1 ? true : undefined));
    expect(await attempts(t, stored!.id)).toEqual([
      { status: 'PENDING', attempts: [{ statusCode: null, error: 'refused: the URL must be an https:// URL' }] },
    ]);
    expect(r.requests()).toBe(0);
  });

  it('with WEBHOOK_ALLOW_PRIVATE_ADDRESSES, delivers to loopback receivers, by address and by name', async () => {
    const r = await receiver();
    const resolve = resolverFor({ 'hooks.trader.example': ['127.0.0.1'] });
    const t = await start({ env: LOOPBACK_RECEIVERS_ENV, webhookResolver: resolve });
    const producer = await createProducer(t.api, 'Jean');
    const byAddress = await register(t, { url: r.url, kinds: ['ADJUSTED'], producerId: producer });
    // The name reaches the receiver only through the injected resolver: the lookup the dispatcher
    // checks is the one its connection uses.
    const byName = await register(t, { url: r.url.replace('127.0.0.1', 'hooks.trader.example'), kinds: ['ADJUSTED'], producerId: producer });
    expect([byAddress.userErrors, byName.userErrors]).toEqual([[], []]);

    await createProduct(t.api, producer, { name: 'Carrots', onHand: '5' });
    await waitFor('both deliveries', async () => (r.accepted().length === 2 ? true : undefined));
    expect(await attempts(t, byName.webhook!.id)).toEqual([{ status: 'DELIVERED', attempts: [{ statusCode: 204, error: null }] }]);
    expect(resolve.asked).toContain('hooks.trader.example');
  });

  it('does not follow a redirect: the answer is a failed attempt and the target gets nothing', async () => {
    const target = await receiver();
    let redirected = 0;
    const redirecting: Server = createServer((req, res) => {
      redirected += 1;
      req.resume();
      res.writeHead(307, { location: target.url }).end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => (redirecting.close(() => resolve()), redirecting.closeAllConnections())));
    const t = await start({ env: LOOPBACK_RECEIVERS_ENV });
    const producer = await createProducer(t.api, 'Jean');
    const port = (redirecting.address() as AddressInfo).port;
    const { webhook } = await register(t, { url: `http://127.0.0.1:${port}/hooks`, kinds: ['ADJUSTED'], producerId: producer });

    await createProduct(t.api, producer, { name: 'Carrots', onHand: '5' });
    await waitFor('the delivery to be attempted', async () => ((await attempts(t, webhook!.id))[0]?.attempts.length === 1 ? true : undefined));
    await retry(t);
    const answer = { statusCode: 307, error: 'receiver answered 307' };
    expect(await attempts(t, webhook!.id)).toEqual([{ status: 'PENDING', attempts: [answer, answer] }]);
    expect(redirected).toBe(2);
    expect(target.requests()).toBe(0);
  });
});
