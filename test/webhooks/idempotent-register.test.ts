import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAtOnce } from '../support/at-once.js';
import type { GraphQLClient } from '../support/graphql.js';
import * as op from '../support/operations.js';
import { createHub, createProducer, type UserErrorShape } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A trader platform whose registerWebhook timed out after the commit and retries must not end with
// two endpoints, each receiving every event; and it must get the secret it never saw, or it could
// verify no delivery.

const REGISTER = `mutation ($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { webhook { id url kinds active } secret ${op.USER_ERRORS} } }`;

type Payload = { webhook: { id: string; url: string; kinds: string[]; active: boolean } | null; secret: string | null; userErrors: UserErrorShape[] };

const URL = 'https://trader.example.org/foodhub/events';

describe('registerWebhook with an idempotency key', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  async function producer() {
    const producerId = await createProducer(t.api, `Farm ${randomUUID().slice(0, 6)}`);
    return { producerId, api: await t.as({ role: 'producer', producerId }) };
  }

  async function register(api: GraphQLClient, input: Record<string, unknown>): Promise<Payload> {
    return (await api.data<{ registerWebhook: Payload }>(REGISTER, { input })).registerWebhook;
  }

  /** The webhooks and keys an enterprise has (`owner`: producer_id or hub_id). */
  async function footprint(owner: 'producer' | 'hub', id: string) {
    const { rows: [row] } = await t.db.query(
      `SELECT (SELECT count(*)::int FROM webhook WHERE ${owner}_id = $1) AS webhooks,
              (SELECT count(*)::int FROM idempotency_key WHERE scope = '${owner}:' || $1) AS keys`,
      [id],
    );
    return row as { webhooks: number; keys: number };
  }

  it('returns the first webhook and its generated secret for a repeated key, and registers no other', async () => {
    const p = await producer();
    const key = randomUUID();
    const first = await register(p.api, { url: URL, kinds: ['HELD', 'RELEASED'], idempotencyKey: key });
    expect(first.userErrors).toEqual([]);
    expect(first.secret).toMatch(/^[0-9a-f]{64}$/);

    expect(await register(p.api, { url: URL, kinds: ['HELD', 'RELEASED'], idempotencyKey: key })).toEqual(first);
    // Spelt differently, the same request: the owner named in upper case, the kinds in another
    // order and repeated, the URL and key padded.
    const respelt = await register(p.api, { url: ` ${URL} `, kinds: ['RELEASED', 'HELD', 'HELD'], producerId: p.producerId.toUpperCase(), idempotencyKey: ` ${key}  ` });
    expect(respelt).toEqual(first);
    expect(await footprint('producer', p.producerId)).toEqual({ webhooks: 1, keys: 1 });

    // The secret is kept where it always was, on the webhook, and nowhere else.
    const { rows } = await t.db.query("SELECT row_to_json(k)::text AS row FROM idempotency_key k WHERE scope = 'producer:' || $1", [p.producerId]);
    expect(rows[0].row).not.toContain(first.secret);
  });

  it('replays a secret the client chose, and refuses another secret under the same key', async () => {
    const p = await producer();
    const key = randomUUID();
    const secret = 'a-secret-the-trader-platform-chose';
    const first = await register(p.api, { url: URL, kinds: ['HELD'], secret, idempotencyKey: key });
    expect(first).toMatchObject({ secret, userErrors: [] });
    expect(await register(p.api, { url: URL, kinds: ['HELD'], secret, idempotencyKey: key })).toEqual(first);
    for (const other of [{ secret: `${secret}-2` }, { secret: null }]) {
      const refused = await register(p.api, { url: URL, kinds: ['HELD'], ...other, idempotencyKey: key });
      expect(refused).toEqual({
        webhook: null,
        secret: null,
        userErrors: [{ code: 'IDEMPOTENCY_CONFLICT', field: ['idempotencyKey'], message: 'this idempotency key was already used for a different webhook' }],
      });
    }
    expect(await footprint('producer', p.producerId)).toEqual({ webhooks: 1, keys: 1 });
  });

  it('refuses the same key with a different request, and registers nothing', async () => {
    const p = await producer();
    const key = randomUUID();
    expect((await register(p.api, { url: URL, kinds: ['HELD'], idempotencyKey: key })).userErrors).toEqual([]);
    for (const different of [{ url: `${URL}/2`, kinds: ['HELD'] }, { url: URL, kinds: ['HELD', 'COMPLETED'] }]) {
      const refused = await register(p.api, { ...different, idempotencyKey: key });
      expect(refused.webhook).toBeNull();
      expect(refused.userErrors.map((e) => [e.code, e.field])).toEqual([['IDEMPOTENCY_CONFLICT', ['idempotencyKey']]]);
    }
    expect(await footprint('producer', p.producerId)).toEqual({ webhooks: 1, keys: 1 });

    // Keys are scoped to the webhook's owner: another producer's key of the same text is its own.
    const other = await producer();
    expect((await register(other.api, { url: URL, kinds: ['HELD'], idempotencyKey: key })).userErrors).toEqual([]);
    expect(await footprint('producer', p.producerId)).toEqual({ webhooks: 1, keys: 1 });
  });

  it("keys a hub's webhooks with its sessions: one set of keys per enterprise", async () => {
    const hubId = await createHub(t.api, `Hub ${randomUUID().slice(0, 6)}`);
    const api = await t.as({ role: 'hub', hubId });
    const key = randomUUID();
    const { createSalesSession } = await api.data<{ createSalesSession: { userErrors: unknown[] } }>(op.CREATE_SALES_SESSION, {
      input: { hubId, opensAt: '2026-11-23T10:00:00+01:00', closesAt: '2026-11-27T18:00:00+01:00', timeZone: 'Europe/Paris', offers: [], idempotencyKey: key },
    });
    expect(createSalesSession.userErrors).toEqual([]);
    const refused = await register(api, { url: URL, kinds: ['HELD'], idempotencyKey: key });
    expect(refused.userErrors.map((e) => e.code)).toEqual(['IDEMPOTENCY_CONFLICT']);
    const first = await register(api, { url: URL, kinds: ['HELD'], idempotencyKey: `${key}-webhook` });
    // The operator registering the same for the hub uses the hub's keys, and gets the hub's webhook.
    expect(await register(t.api, { url: URL, kinds: ['HELD'], hubId, idempotencyKey: `${key}-webhook` })).toEqual(first);
    expect(await footprint('hub', hubId)).toEqual({ webhooks: 1, keys: 2 });
  });

  it('registers on every call without a key, as before, and refuses an empty or over-long key', async () => {
    const p = await producer();
    expect((await register(p.api, { url: URL, kinds: ['HELD'] })).userErrors).toEqual([]);
    expect((await register(p.api, { url: URL, kinds: ['HELD'], idempotencyKey: null })).userErrors).toEqual([]);
    for (const idempotencyKey of ['   ', 'k'.repeat(201)]) {
      const refused = await register(p.api, { url: URL, kinds: ['HELD'], idempotencyKey });
      expect(refused.userErrors.map((e) => [e.code, e.field])).toEqual([['INVALID_INPUT', ['idempotencyKey']]]);
    }
    expect(await footprint('producer', p.producerId)).toEqual({ webhooks: 2, keys: 0 });
  });

  it('registers one webhook when 10 identical requests arrive at once', async () => {
    const p = await producer();
    const input = { url: URL, kinds: ['HELD', 'COMPLETED'], idempotencyKey: randomUUID() };
    // Registering waits while the gate holds the webhook table (SHARE blocks every insert).
    const results = await allAtOnce(t.db, (gate) => gate.query('LOCK TABLE webhook IN SHARE MODE'),
      () => Array.from({ length: 10 }, () => register(p.api, input)));
    expect(results[0]!.userErrors).toEqual([]);
    for (const result of results) expect(result).toEqual(results[0]);
    expect(await footprint('producer', p.producerId)).toEqual({ webhooks: 1, keys: 1 });
  });
});
