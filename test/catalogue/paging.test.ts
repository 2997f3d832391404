// A producer's products and a product's lots are read a page at a time: in a fixed order, with
// `first:` and `after:` (the last item of the page before), a page per parent in one statement,
// and only the page read from the database, however long the list.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiveLot, world } from '../fulfilment/support.js';
import { checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { rowsReadDuring, statementsFor } from '../support/statements.js';
import type { DurationLike } from 'luxon';
import { ManualClock } from '../support/clock.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('paging through products and lots', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  /** Every item of a list, page by page, each page `after:` the last item of the one before. */
  async function allPages(read: (args: string) => Promise<string[]>, size: number): Promise<string[]> {
    const seen: string[] = [];
    for (let page = await read(`first: ${size}`); page.length > 0; page = await read(`first: ${size}, after: "${seen.at(-1)}"`)) {
      expect(page.length).toBeLessThanOrEqual(size);
      seen.push(...page);
    }
    return seen;
  }

  it("pages through a producer's products oldest first, each product once, however they are renamed meanwhile", async () => {
    const farm = await createProducer(t.api, 'Ferme des Pages');
    const names = ['Turnips', 'Apples', 'Kale', 'Beets', 'Kale', 'Leeks', 'Chard'];
    const made: string[] = [];
    for (const name of names) made.push(await createProduct(t.api, farm, { name }));
    // Made one after the other; two made in the same millisecond go by id.
    const { rows } = await t.db.query<{ id: string }>('SELECT id FROM product WHERE producer_id = $1 ORDER BY created_at, id', [farm]);
    const expected = rows.map((r) => r.id);
    expect(new Set(expected)).toEqual(new Set(made));

    const products = (args: string) =>
      t.api.data<{ producer: { products: { id: string }[] } }>(`query ($id: ID!) { producer(id: $id) { products(${args}) { id } } }`, { id: farm })
        .then((r) => r.producer.products.map((p) => p.id));
    for (const size of [1, 2, 3, 7]) expect(await allPages(products, size)).toEqual(expected);
    expect(await products('first: 500')).toEqual(expected);
    expect(await products('first: 0')).toEqual([]);

    // The last product of a page renamed before the next page (to either end of the alphabet): the
    // pages still hold every product once.
    const renamed = async (args: string) => {
      const page = await products(args);
      const last = page.at(-1);
      if (last) {
        const name = page.length % 2 === 0 ? 'Zucchini' : 'Aardvark beans';
        const UPDATE = 'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { field message code } } }';
        expect((await t.api.data<{ updateProduct: { userErrors: unknown[] } }>(UPDATE, { input: { productId: last, name } })).updateProduct.userErrors).toEqual([]);
      }
      return page;
    };
    expect(await allPages(renamed, 2)).toEqual(expected);
  });

  it("pages through a product's lots, earliest best-before first and those without one last, by status too", async () => {
    const w = await world(t);
    const cheese = await w.product('Tomme', 'each');
    const lot = (code: string, bestBefore?: string, released = true) =>
      receiveLot(t.api, cheese, { code, quantity: '1', kind: 'ITEM', released, ...(bestBefore ? { bestBefore } : {}) });
    const ids: Record<string, string> = {};
    for (const [code, bestBefore, released] of [
      ['T-07', undefined, true], ['T-03', '2026-12-20', false], ['T-01', '2026-12-01', true], ['T-05', '2026-12-20', true],
      ['T-02', '2026-12-01', false], ['T-06', undefined, false], ['T-04', '2026-12-20', true],
    ] as const) ids[code] = await lot(code, bestBefore, released);
    const inOrder = (codes: string[]) => codes.map((code) => ids[code]);

    const lots = (args: string) =>
      t.api.data<{ product: { lots: { id: string }[] } }>(`query ($id: ID!) { product(id: $id) { lots(${args}) { id } } }`, { id: cheese })
        .then((r) => r.product.lots.map((l) => l.id));
    const all = inOrder(['T-01', 'T-02', 'T-03', 'T-04', 'T-05', 'T-06', 'T-07']);
    for (const size of [1, 2, 3]) expect(await allPages(lots, size)).toEqual(all);
    const released = inOrder(['T-01', 'T-04', 'T-05', 'T-07']);
    expect(await allPages((args) => lots(`status: RELEASED, ${args}`), 2)).toEqual(released);
    expect(await lots('status: QUARANTINE')).toEqual(inOrder(['T-02', 'T-03', 'T-06']));
    // A released page may go on after a lot in quarantine: the cursor marks a place in the order.
    expect(await lots(`status: RELEASED, after: "${ids['T-03']}"`)).toEqual(inOrder(['T-04', 'T-05', 'T-07']));
  });

  it('answers a cursor that is not one of the list\'s items with BAD_USER_INPUT, not an empty page', async () => {
    const w = await world(t);
    const [mine, theirs] = [await w.product('Plums'), await createProduct(t.api, await createProducer(t.api, 'Elsewhere'), { name: 'Figs' })];
    const theirLot = await receiveLot(t.api, theirs, { code: 'F-1', quantity: '1' });
    for (const [query, id, after] of [
      ['query ($id: ID!, $after: ID) { producer(id: $id) { products(after: $after) { id } } }', w.farm, theirs],
      ['query ($id: ID!, $after: ID) { producer(id: $id) { products(after: $after) { id } } }', w.farm, randomUUID()],
      ['query ($id: ID!, $after: ID) { product(id: $id) { lots(after: $after) { id } } }', mine, theirLot],
      ['query ($id: ID!, $after: ID) { product(id: $id) { lots(after: $after) { id } } }', mine, 'not-an-id'],
    ] as const) {
      // Whatever the page size: an empty page is no answer to a bad cursor.
      for (const first of [1, 0]) {
        const answer = await t.api.request(query.replace('(after: $after)', '(first: $first, after: $after)').replace('$after: ID)', '$after: ID, $first: Int)'), { id, after, first });
        expect(answer.errors?.[0]?.extensions?.code, `${query} first: ${first} after ${after}`).toBe('BAD_USER_INPUT');
      }
    }
    // Nor is a negative page size read as none.
    const negative = await t.api.request('query ($id: ID!) { producer(id: $id) { products(first: -1) { id } } }', { id: w.farm });
    expect(negative.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', userErrors: [{ code: 'INVALID_INPUT', field: ['first'] }] });
  });

  it("pages one producer's products nested in a session's catalogue: the other producers reached have nothing after its cursor", async () => {
    const jean = await createProducer(t.api, 'Jean');
    const marie = await createProducer(t.api, 'Marie');
    const carrots = await createProduct(t.api, jean, { name: 'Carrots', onHand: '10' });
    t.clock.advance({ seconds: 1 }); // made later, so listed after (made at one instant, they go by id)
    const leeks = await createProduct(t.api, jean, { name: 'Leeks', onHand: '10' });
    const bread = await createProduct(t.api, marie, { name: 'Bread', onHand: '10' });
    const session = await createSession(t.api, await createHub(t.api, 'Nested Hub'), {
      opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-27T18:00:00+01:00', products: [carrots, leeks, bread],
    });
    // Anonymous, and Jean himself, whose own products are read whole and Marie's only on sale (pages read apart).
    for (const reader of [await t.as(), await t.as({ role: 'producer', producerId: jean })]) {
      const answer = await reader.request<{ salesSession: { offers: { product: { name: string; producer: { name: string; products: { name: string }[] } } }[] } | null }>(
        'query ($id: ID!, $after: ID) { salesSession(id: $id) { offers { product { name producer { name products(first: 1, after: $after) { name } } } } } }',
        { id: session.id, after: carrots },
      );
      expect(answer.errors).toBeUndefined();
      // Jean's next page after Carrots is Leeks; Marie's list has no such item, so nothing after it.
      expect(answer.data?.salesSession?.offers.map((o) => [o.product.name, o.product.producer.products.map((p) => p.name)])).toEqual([
        ['Carrots', ['Leeks']], ['Leeks', ['Leeks']], ['Bread', []],
      ]);
    }
  });

  it("reads only the page, however many lots a product has", async () => {
    const w = await world(t);
    const lamb = await w.product('Lamb', 'each');
    for (let i = 0; i < 60; i += 1) await receiveLot(t.api, lamb, { code: `EAR-${String(i).padStart(3, '0')}`, quantity: '1', kind: 'ITEM' });
    const page = (nonce = '') => t.api.data<{ product: { lots: { code: string }[] } }>(
      'query ($id: ID!) { product(id: $id) { lots(first: 3) { code } } }', { id: lamb, nonce },
    );
    expect((await page()).product.lots.map((l) => l.code)).toEqual(['EAR-000', 'EAR-001', 'EAR-002']);
    // The product's row and its page: nowhere near its sixty lots.
    expect(await rowsReadDuring(() => page(randomUUID()))).toBeLessThan(10);
  });

  it("reads the products of every producer a response reaches in one statement, however many producers", async () => {
    const hub = await createHub(t.api, 'Paging Hub');
    const open = { opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-27T18:00:00+01:00' };
    const farms: string[] = [];
    const offered: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      farms.push(await createProducer(t.api, `Farm ${i}`));
      for (const name of ['Onions', 'Garlic', 'Shallots']) offered.push(await createProduct(t.api, farms[i]!, { name }));
    }
    const QUERY = 'query ($id: ID!) { salesSession(id: $id) { offers { product { producer { id products(first: 2) { name } } } } } }';
    const statements = async (products: string[]) => {
      const session = await createSession(t.api, hub, { ...open, products });
      const read = (nonce?: string) => t.api.data<{ salesSession: { offers: { product: { producer: { id: string; products: { name: string }[] } } }[] } }>(QUERY, { id: session.id, nonce });
      for (const offer of (await read()).salesSession.offers) {
        const { rows } = await t.db.query<{ name: string }>('SELECT name FROM product WHERE producer_id = $1 ORDER BY created_at, id LIMIT 2', [offer.product.producer.id]);
        expect(offer.product.producer.products.map((p) => p.name)).toEqual(rows.map((r) => r.name));
      }
      return statementsFor(read);
    };
    // One farm's products, then all three farms': the same statements.
    expect(await statements(offered.slice(0, 3))).toBe(await statements(offered));
  });
});

describe('paging for a visitor, whose lists are of what sells at the instant it reads', () => {
  /** A clock that moves on by `step` at every reading, as a real one does between fields resolved a moment apart. */
  class TickingClock extends ManualClock {
    step: DurationLike | undefined = { milliseconds: 1 };
    override now(): Date {
      if (this.step) this.advance(this.step);
      return super.now();
    }
  }
  const clock = new TickingClock('2026-11-23T09:00:00+01:00');
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ clock });
  });
  afterAll(() => t.stop());

  it("reads every producer's products, and every hub's sessions, a response reaches in one statement, however many", async () => {
    const open = { opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-27T18:00:00+01:00' };
    const hubs = [await createHub(t.api, 'Visitor Hub A'), await createHub(t.api, 'Visitor Hub B'), await createHub(t.api, 'Visitor Hub C')];
    const farms: string[] = [];
    const offered: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      farms.push(await createProducer(t.api, `Visitor Farm ${i}`));
      for (const name of ['Onions', 'Garlic']) offered.push(await createProduct(t.api, farms[i]!, { name, onHand: '10' }));
    }
    const sessions: Awaited<ReturnType<typeof createSession>>[] = [];
    for (const hub of hubs) sessions.push(await createSession(t.api, hub, { ...open, products: offered }));
    // A visitor reaches producers through a session's offers.
    const visitor = await t.as();
    const productsOf = async (products: string[]) => {
      const session = await createSession(t.api, hubs[0]!, { ...open, products });
      return statementsFor((nonce) => visitor.data(
        'query ($id: ID!) { salesSession(id: $id) { offers { product { producer { id products(first: 2) { name } } } } } }', { id: session.id, nonce }));
    };
    // A producer reaches other hubs (it reads their sessions as the catalogue) through its orders.
    const farm = await t.as({ role: 'producer', producerId: farms[0]! });
    const order = async (session: (typeof sessions)[number]) =>
      expect((await checkout(t.api, session.id, 'ticking', [{ offerId: session.offerFor(offered[0]!), quantity: '1' }])).userErrors).toEqual([]);
    const sessionsOfHubs = () => statementsFor((nonce) => farm.data(
      'query ($farm: ID!) { producerOrders(producerId: $farm) { hub { id salesSessions(first: 2) { id } } } }', { farm: farms[0], nonce }));
    await order(sessions[0]!);
    const oneHub = await sessionsOfHubs();
    await order(sessions[1]!);
    await order(sessions[2]!);
    // One farm's products, then three farms'; one hub's sessions, then three hubs': the same statements.
    expect({ products: await productsOf(offered.slice(0, 2)), sessions: oneHub })
      .toEqual({ products: await productsOf(offered), sessions: await sessionsOfHubs() });
  });
  it('reads one catalogue for a whole answer: a session listed as selling is not CLOSED beside it, and its products read by id', async () => {
    const farm = await createProducer(t.api, 'Instant Farm');
    const hub = await createHub(t.api, 'Instant Hub');
    const products: string[] = [];
    for (let i = 0; i < 6; i += 1) products.push(await createProduct(t.api, farm, { name: `Instant carrots ${i}`, onHand: '10' }));
    clock.step = undefined;
    clock.set('2026-11-30T09:00:00+01:00');
    // Sessions closing 0.5 s, 1.5 s, ... from now, one product each: whatever instant the answer
    // reads at, the first session it lists closes less than a second after it.
    for (const [i, product] of products.entries()) {
      await createSession(t.api, hub, {
        opensAt: '2026-11-30T08:00:00+01:00',
        closesAt: new Date(Date.parse('2026-11-30T09:00:00.500+01:00') + i * 1000).toISOString(),
        products: [product],
      });
    }
    const visitor = await t.as();
    clock.step = { seconds: 1 };
    try {
      const d = await visitor.data<{ hub: { salesSessions: { id: string; status: string; offers: { available: string; product: { id: string } }[] }[] } } & Record<string, { id: string } | null>>(
        `query ($h: ID!) { hub(id: $h) { salesSessions(first: 6) { id status offers { available product { id } } } } ${products.map((id, i) => `p${i}: product(id: "${id}") { id }`).join(' ')} }`, { h: hub });
      const listed = d.hub.salesSessions;
      expect(listed.length).toBeGreaterThan(0);
      // Everything listed to a visitor is selling or to come: none reads CLOSED, sells nothing, or
      // has a product that reads as none, in the same answer.
      const unreadable = new Set(products.filter((_, i) => d[`p${i}`] === null));
      expect(listed.filter((s) => s.status === 'CLOSED' || s.offers.some((o) => o.available === '0' || unreadable.has(o.product.id))).map((s) => s.id)).toEqual([]);
    } finally {
      clock.step = { milliseconds: 1 };
    }
  });
});
