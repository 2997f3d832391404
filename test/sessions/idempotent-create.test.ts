import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAtOnce } from '../support/at-once.js';
import type { GraphQLClient } from '../support/graphql.js';
import * as op from '../support/operations.js';
import { approveHub, createHub, createProducer, createProduct, type UserErrorShape } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A trader platform whose createSalesSession timed out after the commit and retries must not open
// a second session: customers would see the hub's week twice, and its stock offered in both.

type Payload = {
  salesSession: { id: string; opensAt: string; closesAt: string; timeZone: string; status: string; offers: { id: string; product: { id: string } }[] } | null;
  userErrors: UserErrorShape[];
};

describe('createSalesSession with an idempotency key', () => {
  let t: TestApp;
  let jean: string;
  let carrots: string;
  let eggs: string;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T08:00:00+01:00' });
    jean = await createProducer(t.api, 'Jean');
    carrots = await createProduct(t.api, jean, { name: 'Carrots', onHand: '10' });
    eggs = await createProduct(t.api, jean, { name: 'Eggs', onHand: '60' });
  });
  afterAll(() => t.stop());

  /** A hub and its own token, as its trader platform would call. */
  async function hub() {
    const hubId = await createHub(t.api, `Hub ${randomUUID().slice(0, 6)}`);
    await approveHub(t.api, jean, hubId);
    return { hubId, api: await t.as({ role: 'hub', hubId }) };
  }

  function input(hubId: string, fields: Record<string, unknown> = {}) {
    return {
      hubId,
      opensAt: '2026-11-23T09:00:00+01:00',
      closesAt: '2026-11-27T18:00:00+01:00',
      timeZone: 'Europe/Paris',
      offers: [
        { productId: carrots, price: { amount: 320, currency: 'EUR' } },
        { productId: eggs, price: { amount: 45, currency: 'EUR' }, minShelfLifeDays: 7 },
      ],
      ...fields,
    };
  }

  async function create(api: GraphQLClient, fields: Record<string, unknown>): Promise<Payload> {
    return (await api.data<{ createSalesSession: Payload }>(op.CREATE_SALES_SESSION, { input: fields })).createSalesSession;
  }

  /** What creating sessions leaves behind for a hub: its sessions, their offers and its keys. */
  async function footprint(hubId: string) {
    const { rows: [row] } = await t.db.query(
      `SELECT (SELECT count(*)::int FROM sales_session WHERE hub_id = $1) AS sessions,
              (SELECT count(*)::int FROM offer o JOIN sales_session s ON s.id = o.sales_session_id WHERE s.hub_id = $1) AS offers,
              (SELECT count(*)::int FROM idempotency_key WHERE scope = 'hub:' || $1) AS keys`,
      [hubId],
    );
    return row as { sessions: number; offers: number; keys: number };
  }

  it('returns the first session for a repeated key and creates no other', async () => {
    const h = await hub();
    const key = randomUUID();
    const first = await create(h.api, input(h.hubId, { idempotencyKey: key }));
    expect(first.userErrors).toEqual([]);
    expect(await footprint(h.hubId)).toEqual({ sessions: 1, offers: 2, keys: 1 });

    expect(await create(h.api, input(h.hubId, { idempotencyKey: key }))).toEqual(first);
    // Spelt differently, the same request: upper-case ids, the same instants at another offset,
    // a padded time zone and key, the offers in another order.
    const respelt = await create(h.api, input(h.hubId.toUpperCase(), {
      opensAt: '2026-11-23T08:00:00Z',
      closesAt: '2026-11-27T19:00:00+02:00',
      timeZone: ' Europe/Paris ',
      offers: [
        { productId: eggs.toUpperCase(), price: { amount: 45, currency: 'EUR' }, minShelfLifeDays: 7 },
        { productId: carrots.toUpperCase(), price: { amount: 320, currency: 'EUR' }, minGrade: null },
      ],
      idempotencyKey: `  ${key} `,
    }));
    expect(respelt).toEqual(first);
    expect(await footprint(h.hubId)).toEqual({ sessions: 1, offers: 2, keys: 1 });
  });

  it('returns the first session even after it has closed', async () => {
    const h = await hub();
    const request = input(h.hubId, { closesAt: '2026-11-23T20:00:00+01:00', idempotencyKey: randomUUID() });
    const first = await create(h.api, request);
    expect(first.userErrors).toEqual([]);
    t.clock.set('2026-11-24T09:00:00+01:00');
    try {
      // A new session closing then would be refused (closesAt in the past); the retry is not new.
      const retry = await create(h.api, request);
      // As it is now: closed, so its offers sell nothing more.
      const closed = { ...first.salesSession!, status: 'CLOSED', offers: first.salesSession!.offers.map((offer) => ({ ...offer, available: '0' })) };
      expect(retry).toEqual({ salesSession: closed, userErrors: [] });
    } finally {
      t.clock.set('2026-11-23T08:00:00+01:00');
    }
    expect(await footprint(h.hubId)).toEqual({ sessions: 1, offers: 2, keys: 1 });
  });

  it('refuses the same key with a different request, and creates nothing', async () => {
    const h = await hub();
    const key = randomUUID();
    expect((await create(h.api, input(h.hubId, { idempotencyKey: key }))).userErrors).toEqual([]);
    const before = await footprint(h.hubId);

    const different = [
      { closesAt: '2026-11-27T19:00:00+01:00' },
      { opensAt: '2026-11-23T10:00:00+01:00' },
      { deliversAt: '2026-11-28T08:00:00+01:00' },
      { timeZone: 'Europe/Berlin' },
      { offers: [{ productId: carrots, price: { amount: 320, currency: 'EUR' } }] },
      { offers: [{ productId: carrots, price: { amount: 330, currency: 'EUR' } }, { productId: eggs, price: { amount: 45, currency: 'EUR' }, minShelfLifeDays: 7 }] },
      { offers: [{ productId: carrots, price: { amount: 320, currency: 'EUR' } }, { productId: eggs, price: { amount: 45, currency: 'EUR' } }] },
    ];
    for (const fields of different) {
      expect(await create(h.api, input(h.hubId, { ...fields, idempotencyKey: key }))).toEqual({
        salesSession: null,
        userErrors: [{ code: 'IDEMPOTENCY_CONFLICT', field: ['idempotencyKey'], message: 'this idempotency key was already used for a different sales session' }],
      });
    }
    expect(await footprint(h.hubId)).toEqual(before);

    // Keys are scoped to the hub: another hub's key of the same text is its own.
    const other = await hub();
    expect((await create(other.api, input(other.hubId, { idempotencyKey: key }))).userErrors).toEqual([]);
    expect(await footprint(h.hubId)).toEqual(before);
  });

  it('keeps no key for a refused request: its corrected retry is created', async () => {
    const h = await hub();
    const key = randomUUID();
    const refused = await create(h.api, input(h.hubId, { opensAt: '2026-11-20T09:00:00+01:00', closesAt: '2026-11-22T18:00:00+01:00', idempotencyKey: key }));
    expect(refused.userErrors.map((e) => [e.code, e.field])).toEqual([['INVALID_INPUT', ['closesAt']]]);
    expect(await footprint(h.hubId)).toEqual({ sessions: 0, offers: 0, keys: 0 });
    expect((await create(h.api, input(h.hubId, { idempotencyKey: key }))).userErrors).toEqual([]);
    expect(await footprint(h.hubId)).toEqual({ sessions: 1, offers: 2, keys: 1 });
  });

  it('creates a session on every call without a key, as before, and refuses an empty or over-long key', async () => {
    const h = await hub();
    expect((await create(h.api, input(h.hubId))).userErrors).toEqual([]);
    expect((await create(h.api, input(h.hubId, { idempotencyKey: null }))).userErrors).toEqual([]);
    for (const idempotencyKey of ['   ', 'k'.repeat(201)]) {
      const refused = await create(h.api, input(h.hubId, { idempotencyKey }));
      expect(refused.userErrors.map((e) => [e.code, e.field])).toEqual([['INVALID_INPUT', ['idempotencyKey']]]);
    }
    expect(await footprint(h.hubId)).toEqual({ sessions: 2, offers: 4, keys: 0 });
  });

  /** Runs `requests` at once, while the hub's row is locked: creating a session waits on it. */
  function atOnce<T>(hubId: string, requests: () => Promise<T>[]): Promise<T[]> {
    return allAtOnce(t.db, (gate) => gate.query('SELECT 1 FROM hub WHERE id = $1 FOR UPDATE', [hubId]), requests);
  }

  it('creates one session when 10 identical requests arrive at once', async () => {
    const h = await hub();
    const request = input(h.hubId, { idempotencyKey: randomUUID() });
    const results = await atOnce(h.hubId, () => Array.from({ length: 10 }, () => create(h.api, request)));
    expect(results[0]!.userErrors).toEqual([]);
    for (const result of results) expect(result).toEqual(results[0]);
    expect(await footprint(h.hubId)).toEqual({ sessions: 1, offers: 2, keys: 1 });
  });

  it('creates one session when one key arrives at once with two different requests, and refuses the other', async () => {
    const h = await hub();
    const key = randomUUID();
    const closes = Array.from({ length: 10 }, (_, i) => (i % 2 ? '2026-11-27T18:00:00+01:00' : '2026-11-27T19:00:00+01:00'));
    const results = await atOnce(h.hubId, () => closes.map((closesAt) => create(h.api, input(h.hubId, { closesAt, idempotencyKey: key }))));
    const created = results.filter((r) => r.userErrors.length === 0);
    const refused = results.filter((r) => r.userErrors.length > 0);
    expect(created).toHaveLength(5);
    expect(refused.flatMap((r) => r.userErrors.map((e) => e.code))).toEqual(refused.map(() => 'IDEMPOTENCY_CONFLICT'));
    expect(created.every((r) => r.salesSession!.id === created[0]!.salesSession!.id)).toBe(true);
    expect(await footprint(h.hubId)).toEqual({ sessions: 1, offers: 2, keys: 1 });
  });
});
