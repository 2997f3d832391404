import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allAtOnce } from '../support/at-once.js';
import * as op from '../support/operations.js';
import type { UserErrorShape } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// An operator's onboarding script whose createProducer timed out after the commit, and retries,
// must not make a second "Ferme du Val": hubs would offer from one and the producer stock the other.

type ProducerPayload = { createProducer: { producer: { id: string; name: string } | null; userErrors: UserErrorShape[] } };
type HubPayload = { createHub: { hub: { id: string; name: string } | null; userErrors: UserErrorShape[] } };

describe('createProducer and createHub with an idempotency key', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.stop());

  const createProducer = async (input: Record<string, unknown>) => (await t.api.data<ProducerPayload>(op.CREATE_PRODUCER, { input })).createProducer;
  const createHub = async (input: Record<string, unknown>) => (await t.api.data<HubPayload>(op.CREATE_HUB, { input })).createHub;
  const count = async (table: 'producer' | 'hub', name: string) =>
    (await t.db.query(`SELECT count(*)::int AS n FROM ${table} WHERE name = $1`, [name])).rows[0].n as number;

  it('returns the first producer for a repeated key, with its one location, and creates no other', async () => {
    const key = randomUUID();
    const first = await createProducer({ name: 'Ferme du Val', idempotencyKey: key });
    expect(first.userErrors).toEqual([]);
    const retry = await createProducer({ name: ' Ferme du Val ', idempotencyKey: `  ${key} ` });
    expect(retry).toEqual(first);
    expect(await count('producer', 'Ferme du Val')).toBe(1);
    const { rows } = await t.db.query('SELECT name FROM location WHERE producer_id = $1', [first.producer!.id]);
    expect(rows).toEqual([{ name: 'Main' }]);

    // Without a key, each request is a new producer, as before.
    await createProducer({ name: 'Ferme du Val' });
    expect(await count('producer', 'Ferme du Val')).toBe(2);
  });

  it('refuses the same key for a different name, and creates nothing', async () => {
    const key = randomUUID();
    expect((await createHub({ name: 'Hub Nord', idempotencyKey: key })).userErrors).toEqual([]);
    const other = await createHub({ name: 'Hub Sud', idempotencyKey: key });
    expect(other.hub).toBeNull();
    expect(other.userErrors).toMatchObject([{ code: 'IDEMPOTENCY_CONFLICT', field: ['idempotencyKey'] }]);
    expect(await count('hub', 'Hub Sud')).toBe(0);
    // A producer's key of the same text is another request: the operator's keys name one write each.
    expect((await createProducer({ name: 'Hub Nord', idempotencyKey: key })).userErrors).toMatchObject([{ code: 'IDEMPOTENCY_CONFLICT' }]);
  });

  it('creates one hub when the same request arrives 8 times at once', async () => {
    const input = { name: `Hub ${randomUUID().slice(0, 8)}`, idempotencyKey: randomUUID() };
    // Each creation's first write is its key: holding the table makes all 8 wait, then race.
    const results = await allAtOnce(t.db, (gate) => gate.query('LOCK TABLE idempotency_key IN SHARE MODE'),
      () => Array.from({ length: 8 }, () => createHub(input)));
    expect(results[0]!.userErrors).toEqual([]);
    for (const result of results) expect(result).toEqual(results[0]);
    expect(await count('hub', input.name)).toBe(1);
  });
});
