import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { checkout } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';

/**
 * An operation runs on graphql-js the first time the server sees its document, and as a compiled
 * function (graphql-jit) from the second time on. Clients must not be able to tell: each case
 * below asks the same thing three times and expects the same answer each time.
 */
describe('operations asked for again (compiled)', () => {
  let t: TestApp;
  let world: Awaited<ReturnType<typeof openSessionWorld>>;
  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'silent' } }); // one case breaks the database on purpose
    world = await openSessionWorld(t.api);
    await checkout(t.api, world.session.id, 'alice', [{ offerId: world.session.offerFor(world.eggs), quantity: '12' }]);
  });
  afterAll(() => t.stop());

  /** The same request three times over HTTP, as the client saw each answer. */
  async function thrice(client: Awaited<ReturnType<TestApp['as']>>, query: string, variables: Record<string, unknown> = {}) {
    const answers = [];
    for (let i = 0; i < 3; i += 1) answers.push(await client.request(query, variables));
    return answers;
  }

  it('answer a nested catalogue page the same, with lists, loaders, custom scalars and nulls', async () => {
    const page = `query Page($id: ID!) {
      salesSession(id: $id) {
        id status timeZone opensAt
        offers { id available price { amount currency } product { name unit producer { name } stock { held } } }
        producerOrders { orderState hub { name } lines { quantity product { sku } } }
      }
      missing: product(id: "00000000-0000-4000-8000-000000000000") { id }
    }`;
    const [first, ...again] = await thrice(t.api, page, { id: world.session.id });
    expect(first!.errors).toBeUndefined();
    expect(first!.data).toMatchObject({
      salesSession: { id: world.session.id, producerOrders: [{ orderState: 'HELD', lines: [{ quantity: '12' }] }] },
      missing: null,
    });
    for (const answer of again) expect(answer).toEqual(first);
  });

  it('describe the same schema to introspection, and nothing of how it runs', async () => {
    const query = '{ __schema { types { name } } __type(name: "Offer") { fields { name } } }';
    const [first, ...again] = await thrice(t.api, query);
    const names = (first!.data as { __schema: { types: { name: string }[] } }).__schema.types.map((type) => type.name);
    expect(names).toContain('Offer');
    expect(names.filter((name) => /coerced/i.test(name))).toEqual([]);
    for (const answer of again) expect(answer).toEqual(first);
  });

  it('answer a refused field with the same error, path and code', async () => {
    const anonymous = await t.as();
    const query = `query ($id: ID!) { salesSession(id: $id) { id producerOrders { id } } }`;
    const [first, ...again] = await thrice(anonymous, query, { id: world.session.id });
    expect(first!.errors?.[0]).toMatchObject({ path: ['salesSession', 'producerOrders'], extensions: { code: 'UNAUTHENTICATED' } });
    for (const answer of again) expect(answer).toEqual(first);
  });

  it('answer a failure the client did not cause with the same stable code and path, and no internals', async () => {
    await t.db.query('ALTER TABLE producer RENAME TO producer_gone');
    try {
      const [first, ...again] = await thrice(t.api, 'query ($id: ID!) { producer(id: $id) { name } }', { id: world.jean });
      expect(first!.errors).toEqual([{ message: 'Internal server error', path: ['producer'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
      for (const answer of again) expect(answer).toEqual(first);
    } finally {
      await t.db.query('ALTER TABLE producer_gone RENAME TO producer');
    }
  });

  it('answer a bad variable with 400 BAD_USER_INPUT each time, running nothing', async () => {
    const answers = await thrice(t.api, op.CHECKOUT, { input: { salesSessionId: world.session.id, customerRef: 'bob', lines: 'not a list' } });
    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(answer).toEqual(answers[0]);
    }
    const { rows } = await t.db.query("SELECT count(*)::int AS n FROM customer_order WHERE customer_ref = 'bob'");
    expect(rows[0].n).toBe(0);
  });

  it('run a repeated mutation each time, in order', async () => {
    const offerId = world.session.offerFor(world.bread);
    const placed = [];
    for (let i = 0; i < 3; i += 1) placed.push(await checkout(t.api, world.session.id, `carol-${i}`, [{ offerId, quantity: '1' }]));
    expect(placed.map((p) => p.userErrors)).toEqual([[], [], []]);
    expect(new Set(placed.map((p) => p.customerOrder!.id)).size).toBe(3);
    const { rows } = await t.db.query("SELECT customer_ref FROM customer_order WHERE customer_ref LIKE 'carol-%' ORDER BY created_at, customer_ref");
    expect(rows.map((r) => r.customer_ref)).toEqual(['carol-0', 'carol-1', 'carol-2']);
  });

  it('honour @include and @skip, in fragments too, whichever way a variable turns them', async () => {
    const query = `query ($id: ID!, $withOffers: Boolean!) {
      salesSession(id: $id) { id ...Offers @include(if: $withOffers) status @skip(if: $withOffers) }
    }
    fragment Offers on SalesSession { offers { id } }`;
    const withOffers = await thrice(t.api, query, { id: world.session.id, withOffers: true });
    const without = await thrice(t.api, query, { id: world.session.id, withOffers: false });
    for (const answer of withOffers) expect(Object.keys((answer.data as { salesSession: object }).salesSession)).toEqual(['id', 'offers']);
    for (const answer of without) expect(Object.keys((answer.data as { salesSession: object }).salesSession)).toEqual(['id', 'status']);
  });
});
