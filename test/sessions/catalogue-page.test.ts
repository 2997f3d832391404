import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const PAGE = `query ($id: ID!) {
  salesSession(id: $id) {
    offers { id available price { amount currency } product { name unit producer { name } } }
  }
}`;

interface Page {
  salesSession: { offers: { id: string; available: string; price: { amount: number; currency: string }; product: { name: string; unit: string; producer: { name: string } } }[] };
}

/**
 * Counts the statements the server sends PostgreSQL while `run` goes (the server runs in this
 * process). Background work (the event sequencer after earlier writes) can only add to a count,
 * so the least of a few runs is the request's own.
 */
async function statementsFor(run: () => Promise<unknown>): Promise<number> {
  const counts = [];
  for (let i = 0; i < 3; i += 1) counts.push(await statementsDuring(run));
  return Math.min(...counts);
}

async function statementsDuring(run: () => Promise<unknown>): Promise<number> {
  const query = pg.Client.prototype.query;
  let count = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    count += 1;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  try {
    await run();
  } finally {
    pg.Client.prototype.query = query;
  }
  return count;
}

describe("a storefront's catalogue page", () => {
  let t: TestApp;
  let jean: string;
  let carrots: string;
  let eggs: string;
  let bread: string;
  const times = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-27T18:00:00+01:00' };

  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T08:00:00+01:00' });
    jean = await createProducer(t.api, 'Jean');
    const marie = await createProducer(t.api, 'Marie');
    carrots = await createProduct(t.api, jean, { name: 'Carrots', unit: 'kg', onHand: '10' });
    eggs = await createProduct(t.api, jean, { name: 'Eggs', unit: 'dozen', onHand: '4' });
    bread = await createProduct(t.api, marie, { name: 'Bread', unit: 'each', onHand: '7.5' });
  });
  afterAll(() => t.stop());

  it('shows each offer with its product, producer and what is available now across every hub', async () => {
    const page = await createSession(t.api, await createHub(t.api, 'Hub A'), { ...times, products: [carrots, eggs, bread], price: 320 });
    const other = await createSession(t.api, await createHub(t.api, 'Hub B'), { ...times, products: [carrots] });
    expect((await checkout(t.api, other.id, 'at hub B', [{ offerId: other.offerFor(carrots), quantity: '3' }])).userErrors).toEqual([]);

    const storefront = await t.as();
    const { salesSession } = await storefront.data<Page>(PAGE, { id: page.id });
    const byName = (a: { product: { name: string } }, b: { product: { name: string } }) => a.product.name.localeCompare(b.product.name);
    expect(salesSession.offers.sort(byName)).toEqual([
      { id: page.offerFor(bread), available: '7.5', price: { amount: 320, currency: 'EUR' }, product: { name: 'Bread', unit: 'each', producer: { name: 'Marie' } } },
      { id: page.offerFor(carrots), available: '7', price: { amount: 320, currency: 'EUR' }, product: { name: 'Carrots', unit: 'kg', producer: { name: 'Jean' } } },
      { id: page.offerFor(eggs), available: '4', price: { amount: 320, currency: 'EUR' }, product: { name: 'Eggs', unit: 'dozen', producer: { name: 'Jean' } } },
    ]);

    // A producer reading a page of its own products sees its figures, read with the page.
    const producer = await t.as({ role: 'producer', producerId: jean });
    const own = await producer.data<{ salesSession: { offers: { available: string; product: { stock: { held: string } } }[] } }>(
      'query ($id: ID!) { salesSession(id: $id) { offers { available product { name stock { held } } } } }',
      { id: other.id },
    );
    expect(own.salesSession.offers).toEqual([{ available: '7', product: { name: 'Carrots', stock: { held: '3' } } }]);
  });

  it('costs the same number of statements for 2 offers as for 12', async () => {
    const hub = await createHub(t.api, 'Hub C');
    const many: string[] = [];
    for (let i = 0; i < 12; i += 1) many.push(await createProduct(t.api, jean, { name: `Apples ${i}`, onHand: String(i) }));
    const small = await createSession(t.api, hub, { ...times, products: many.slice(0, 2) });
    const large = await createSession(t.api, hub, { ...times, products: many });

    const storefront = await t.as();
    const read = (id: string) => storefront.data<Page>(PAGE, { id });
    const forSmall = await statementsFor(() => read(small.id));
    const forLarge = await statementsFor(async () => {
      const { salesSession } = await read(large.id);
      const available = new Map(salesSession.offers.map((o) => [o.product.name, o.available]));
      expect(many.map((_, i) => available.get(`Apples ${i}`))).toEqual(many.map((_, i) => String(i)));
    });
    expect(forSmall).toBeGreaterThan(0);
    expect(forLarge).toBe(forSmall);
  });
});
