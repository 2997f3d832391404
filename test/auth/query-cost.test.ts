import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLClient } from '../support/graphql.js';
import { openSessionWorld } from '../support/world.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

/** The default MAX_QUERY_COST: the tests run with it, as an operator who did not set it. */
const LIMIT = 100_000;

describe('the cost of an operation follows the size of the answer it can get', () => {
  let t: TestApp;
  let anonymous: GraphQLClient;
  let w: Awaited<ReturnType<typeof openSessionWorld>>;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    anonymous = await t.as();
    w = await openSessionWorld(t.api);
  });
  afterAll(() => t.stop());

  it('refuses an anonymous loop through offers, products and producers, though it names only a few fields', async () => {
    // A session's 5,000 offers × a producer's 500 products × 500 again: the answer could hold
    // over a billion ids. Counted by fields alone it cost 9.
    const loop = `query ($id: ID!) { salesSession(id: $id) { offers { product { producer { products { producer { products { id } } } } } } } }`;
    const response = await anonymous.request(loop, { id: w.session.id });
    expect(response.status).toBe(400);
    expect(response.data).toBeUndefined();
    expect(response.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(response.errors?.[0]?.message).toMatch(new RegExp(`costs \\d+; the limit is ${LIMIT}$`));
  });

  it('counts a list at `first:` when given, so the same shape asked for a few items runs', async () => {
    const paged = `query ($id: ID!, $n: Int) { producer(id: $id) { products(first: $n) { producer { products(first: $n) { name } } } } }`;
    const few = await anonymous.request<{ producer: { products: { producer: { products: { name: string }[] } }[] } }>(paged, { id: w.marie, n: 2 });
    expect(few.errors).toBeUndefined();
    // Marie's two products, oldest first (made in the same millisecond, by id): sorted here.
    expect(few.data?.producer?.products.map((p) => p.producer.products.map((q) => q.name).sort())).toEqual([['Bread', 'Eggs'], ['Bread', 'Eggs']]);

    // 500 × 500 products: refused before it runs, whether the cap is asked for or implied.
    const asked = await anonymous.request(paged, { id: w.marie, n: 500 });
    expect(asked.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    const implied = await anonymous.request(`query ($id: ID!) { producer(id: $id) { products { producer { products { name } } } } }`, { id: w.marie });
    expect(implied.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('counts again when a variable can change the cost, and refuses a costly operation every time it is sent', async () => {
    // The cost of a document is remembered unless its variables can change it (`first:`, @include).
    const optional = `query ($id: ID!, $deep: Boolean!) { producer(id: $id) { products { name producer @include(if: $deep) { products { name } } } } }`;
    expect((await anonymous.request(optional, { id: w.marie, deep: false })).errors).toBeUndefined();
    expect((await anonymous.request(optional, { id: w.marie, deep: true })).errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect((await anonymous.request(optional, { id: w.marie, deep: false })).errors).toBeUndefined();

    const costly = `query ($id: ID!) { producer(id: $id) { products { producer { products { name } } } } }`;
    for (let i = 0; i < 3; i += 1) {
      expect((await anonymous.request(costly, { id: w.marie })).errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    }
  });

  it("counts one hub's pack list when hubId names it, so its customers' lines can be read", async () => {
    const producer = await t.as({ role: 'producer', producerId: w.jean });
    const lines = 'packList(producerId: $p, deliveryDay: "2026-11-26"__HUB__) { hub { name } customers { customerRef lines { product { name } quantity } } }';
    const oneHub = `query ($p: ID!, $h: ID) { ${lines.replace('__HUB__', ', hubId: $h')} }`;
    const read = await producer.request<{ packList: unknown[] }>(oneHub, { p: w.jean, h: w.hub });
    expect(read.errors).toBeUndefined();
    expect(read.data?.packList).toEqual([]);
    // The same document without the hub may answer every hub's: counted again, and refused.
    expect((await producer.request(oneHub, { p: w.jean, h: null })).errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect((await producer.request(oneHub, { p: w.jean, h: w.hub })).errors).toBeUndefined();
  });

  it("lets a picking screen nest pick lines in ten producer orders, as the README shows, and not in twenty", async () => {
    const producer = await t.as({ role: 'producer', producerId: w.jean });
    const screen = (first: number) => `{ producerOrders(first: ${first}) { pickLines { product { name } quantity deliveryDay criteria { minGrade minShelfLifeDays }
      lots { lot { id code grade } location { name } quantity pinned } untracked { location { name } quantity } short } } }`;
    expect((await producer.request(screen(10))).errors).toBeUndefined();
    expect((await producer.request(screen(20))).errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('refuses aliases that multiply inside a list', async () => {
    // 25 fields for each of a session's 5,000 offers: 125,000 fields.
    const aliases = Array.from({ length: 25 }, (_, i) => `a${i}: available`).join(' ');
    const response = await anonymous.request(`query ($id: ID!) { salesSession(id: $id) { offers { ${aliases} } } }`, { id: w.session.id });
    expect(response.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('refuses an operation too big to count, rather than letting it through uncounted', async () => {
    // Each fragment spreads the one before twice: 2^25 fields from a kilobyte. Measuring its depth
    // or cost spread by spread would keep the server busy for minutes before refusing it.
    const fragments = ['fragment f0 on Offer { available }'];
    for (let i = 1; i <= 25; i += 1) fragments.push(`fragment f${i} on Offer { ...f${i - 1} ...f${i - 1} }`);
    const response = await anonymous.request(`query ($id: ID!) { salesSession(id: $id) { offers { ...f25 } } } ${fragments.join(' ')}`, { id: w.session.id });
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('answers an argument its variables leave invalid as bad input, not as too complex, and runs nothing', async () => {
    // A variable with a default may stand where a non-null type is expected; sent as an explicit
    // null, it leaves the argument null. That is the client's mistake, whatever the cost.
    const hubs = async () => Number((await t.db.query('SELECT count(*) AS n FROM hub')).rows[0].n);
    const before = await hubs();
    const response = await t.api.request('mutation ($name: String = "Hub D") { createHub(input: { name: $name }) { hub { id } } }', { name: null });
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0]?.message).toMatch(/name/);
    expect(await hubs()).toBe(before);
  });

  it('counts a mutation as a transaction, not a field: one request cannot hold hundreds of them', async () => {
    const hubs = async () => Number((await t.db.query('SELECT count(*) AS n FROM hub')).rows[0].n);
    const before = await hubs();
    const many = Array.from({ length: 250 }, (_, i) => `h${i}: createHub(input: { name: "Hub ${i}" }) { hub { id } }`).join(' ');
    const response = await t.api.request(`mutation { ${many} }`);
    expect(response.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect(await hubs()).toBe(before);

    const few = Array.from({ length: 3 }, (_, i) => `h${i}: createHub(input: { name: "Hub ${i}" }) { hub { id } }`).join(' ');
    expect((await t.api.request(`mutation { ${few} }`)).errors).toBeUndefined();
    expect(await hubs()).toBe(before + 3);
  });
});
