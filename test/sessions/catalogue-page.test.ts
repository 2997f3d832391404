import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ReadGroups } from '../../src/shared/read-groups.js';
import { checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { whileOfferReadsHeld } from '../support/held-reads.js';
import { statementsFor } from '../support/statements.js';
import { AVAILABILITY, type AvailabilityEventShape, eventsHandedOut, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const PAGE = `query ($id: ID!) {
  salesSession(id: $id) {
    offers { id available price { amount currency } product { name unit producer { name } } }
  }
}`;

interface Page {
  salesSession: { offers: { id: string; available: string; price: { amount: number; currency: string }; product: { name: string; unit: string; producer: { name: string } } }[] };
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

  it('shows what a checkout would take: whole sellable steps, under the cap, on every path a storefront reads', async () => {
    const fromage = await createProducer(t.api, 'Fromagerie');
    // A cheese sold by the half kilo, 1.3 kg of it; eggs capped at 10, then sold by the box of 6
    // (a step change does not touch a cap already set, which it no longer divides).
    const tomme = await createProduct(t.api, fromage, { name: 'Tomme', onHand: '1.3' });
    const eggsByBox = await createProduct(t.api, fromage, { name: 'Eggs by the box', unit: 'each', onHand: '100' });
    const session = await createSession(t.api, await createHub(t.api, 'Hub S'), { ...times, products: [tomme, eggsByBox], caps: { [eggsByBox]: '10' } });
    for (const [productId, sellableStep] of [[tomme, '0.5'], [eggsByBox, '6']] as const) {
      const updated = await t.api.data<{ updateProduct: { userErrors: unknown[] } }>(
        'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }', { input: { productId, sellableStep } });
      expect(updated.updateProduct.userErrors).toEqual([]);
    }
    const storefront = await t.as();
    const available = async () => Object.fromEntries((await storefront.data<Page>(PAGE, { id: session.id })).salesSession.offers.map((o) => [o.id, o.available]));
    // 1.3 kg is two and a bit half kilos: 1 kg can be checked out, not 1.3; the cap leaves one box.
    expect(await available()).toEqual({ [session.offerFor(tomme)]: '1', [session.offerFor(eggsByBox)]: '6' });
    expect((await checkout(t.api, session.id, 'too much', [{ offerId: session.offerFor(tomme), quantity: '1.5' }])).userErrors[0]?.code).toBe('INSUFFICIENT_STOCK');

    // The cheese's and eggs' stock, handed out before the storefront subscribes, is not the storefront's to get.
    await eventsHandedOut(t.app);
    const storefrontStream = await subscribe<AvailabilityEventShape>(storefront, AVAILABILITY, { salesSessionId: session.id }, { servedBy: t.app });
    try {
      const placed = await checkout(t.api, session.id, 'ann', [{ offerId: session.offerFor(tomme), quantity: '1' }, { offerId: session.offerFor(eggsByBox), quantity: '6' }]);
      expect(placed.userErrors).toEqual([]);
      // 0.3 kg and 4 eggs are left: less than a step of either, so nothing, on the page, on the
      // order's own offers (read without the page), and in the live events.
      expect(await available()).toEqual({ [session.offerFor(tomme)]: '0', [session.offerFor(eggsByBox)]: '0' });
      const order = await t.api.data<{ customerOrder: { lines: { offer: { available: string } }[] } }>(
        'query ($id: ID!) { customerOrder(id: $id) { lines { offer { available } } } }', { id: placed.customerOrder!.id });
      expect(order.customerOrder.lines.map((l) => l.offer.available)).toEqual(['0', '0']);
      const events = await storefrontStream.waitForCount(2);
      expect(events.map((e) => e.available)).toEqual(['0', '0']);
      for (const [offerId, quantity] of [[session.offerFor(tomme), '0.5'], [session.offerFor(eggsByBox), '6']] as const) {
        expect((await checkout(t.api, session.id, 'bob', [{ offerId, quantity }])).userErrors[0]?.code).toBe('INSUFFICIENT_STOCK');
      }
    } finally {
      await storefrontStream.close();
    }
  });

  it('costs the same number of statements for 2 offers as for 12', async () => {
    const hub = await createHub(t.api, 'Hub C');
    const many: string[] = [];
    for (let i = 0; i < 12; i += 1) many.push(await createProduct(t.api, jean, { name: `Apples ${i}`, onHand: String(i) }));
    const small = await createSession(t.api, hub, { ...times, products: many.slice(0, 2) });
    const large = await createSession(t.api, hub, { ...times, products: many });

    const storefront = await t.as();
    const read = (id: string, nonce: string) => storefront.data<Page>(PAGE, { id, nonce });
    const forSmall = await statementsFor((nonce) => read(small.id, nonce));
    const forLarge = await statementsFor(async (nonce) => {
      const { salesSession } = await read(large.id, nonce);
      const available = new Map(salesSession.offers.map((o) => [o.product.name, o.available]));
      expect(many.map((_, i) => available.get(`Apples ${i}`))).toEqual(many.map((_, i) => String(i)));
    });
    expect(forSmall).toBeGreaterThan(0);
    expect(forLarge).toBe(forSmall);
  });

  describe('asked for by many at once', () => {
    afterEach(() => vi.restoreAllMocks());

    it('is read once more, for everyone who asked while it was first being read, and each gets the whole page', async () => {
      const page = await createSession(t.api, await createHub(t.api, 'Hub D'), { ...times, products: [carrots, eggs] });
      const storefront = await t.as();
      // Not the same request (its own variable): the page is asked for the first time below, and
      // its first read takes no version for later callers to share it on (test/sessions/shared-answers.test.ts).
      const alone = await storefront.data<Page>(PAGE, { id: page.id, nonce: 'alone' });
      const takes = vi.spyOn(ReadGroups.prototype, 'take');
      await whileOfferReadsHeld(t, async (held) => {
        const answers = [0, 1, 2, 3].map(() => storefront.request<Page>(PAGE, { id: page.id }));
        // The first is reading and the other three wait for it inside the server, not in PostgreSQL.
        await waitFor('every request to reach the server and one to read', async () => (takes.mock.calls.length === 4 && (await held.waiting()) === 1 ? true : undefined));
        await held.release();
        const bodies = await Promise.all(answers);
        for (const body of bodies) expect(body).toEqual({ status: 200, data: alone });
        // The first read, then one more for the three that came while it ran.
        expect(held.offerReads()).toBe(2);
      });
    });

    it('is never shared between different callers', async () => {
      const page = await createSession(t.api, await createHub(t.api, 'Hub F'), { ...times, products: [carrots] });
      const visitor = await t.as();
      const producer = await t.as({ role: 'producer', producerId: jean });
      await whileOfferReadsHeld(t, async (held) => {
        const answers = [visitor, producer].map((client) => client.request<Page>(PAGE, { id: page.id }));
        // Both read: neither waits inside the server for the other's answer.
        await waitFor('both pages to be reading', async () => ((await held.waiting()) === 2 ? true : undefined));
        await held.release();
        for (const body of await Promise.all(answers)) expect(body.data?.salesSession.offers).toHaveLength(1);
        expect(held.offerReads()).toBe(2);
      });
    });

    it('is never shared between variables JSON cannot tell apart, and runs alone what JSON cannot write', async () => {
      const hub = await createHub(t.api, 'Hub G');
      const page = await createSession(t.api, hub, { ...times, products: [carrots] });
      const QUERY = 'query ($id: ID!, $hub: ID!, $f: Int) { salesSession(id: $id) { offers { id } } hub(id: $hub) { salesSessions(first: $f) { id } } }';
      const takes = vi.spyOn(ReadGroups.prototype, 'take');
      await whileOfferReadsHeld(t, async (held) => {
        const first = t.api.request(QUERY, { id: page.id, hub, f: null });
        await waitFor('the first to be reading', async () => ((await held.waiting()) === 1 ? true : undefined));
        const second = t.api.request(QUERY, { id: page.id, hub, f: null });
        await waitFor('the second to wait for it', async () => (takes.mock.calls.length === 2 ? true : undefined));
        // 1e400 parses to Infinity, which JSON writes as null: the same key as the second's, once.
        const overflow = fetch(t.app.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${t.api.token}` },
          body: `{"query": ${JSON.stringify(QUERY)}, "variables": {"id": "${page.id}", "hub": "${hub}", "f": 1e400}}`,
        });
        let answered = false;
        void overflow.then(() => (answered = true));
        await waitFor('the third to be answered or to wait', async () => (answered || takes.mock.calls.length === 3 ? true : undefined));
        await held.release();
        expect((await first).status).toBe(200);
        expect((await second).status).toBe(200);
        const third = await overflow;
        expect(third.status).toBe(400);
        expect(((await third.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
      });

      // Variables nested too deep for JSON.stringify's stack: the query runs, unshared.
      const deep = `{"query": "{ __typename }", "variables": {"junk": ${'['.repeat(200_000)}${']'.repeat(200_000)}}}`;
      const response = await fetch(t.app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
    });

    it('never answers with a read that began before the request arrived', async () => {
      const hubE = await createHub(t.api, 'Hub E');
      const page = await createSession(t.api, hubE, { ...times, products: [bread] });
      const STATUS_PAGE = 'query ($id: ID!) { salesSession(id: $id) { status offers { id available } } }';
      type StatusPage = { salesSession: { status: string; offers: { id: string; available: string }[] } };
      // The hub's storefront backend: a visitor without a token is not shown the session once it closed.
      const storefront = await t.as({ role: 'hub', hubId: hubE });
      const takes = vi.spyOn(ReadGroups.prototype, 'take');
      await whileOfferReadsHeld(t, async (held) => {
        // The first request has read the session (open) and waits to read its offers...
        const first = storefront.request<StatusPage>(STATUS_PAGE, { id: page.id });
        await waitFor('the first page to be reading', async () => ((await held.waiting()) === 1 ? true : undefined));
        // ...when the session closes (its time passes: a close by the hub would wait for the
        // offers, to tell its storefronts), and then a second, identical request arrives.
        t.clock.set(times.closesAt);
        const second = storefront.request<StatusPage>(STATUS_PAGE, { id: page.id });
        await waitFor('the second request to reach the server', async () => (takes.mock.calls.length === 2 ? true : undefined));
        await held.release();

        expect((await first).data?.salesSession.status).toBe('OPEN');
        // The first answer is already out of date for the second caller, who must not be given it.
        // (Closing an empty session completes it at once, so it may already read COMPLETED.)
        const fresh = (await second).data?.salesSession;
        expect(['CLOSED', 'COMPLETED']).toContain(fresh?.status);
        // Closed: its offers sell nothing more, though the bread is still in stock.
        expect(fresh?.offers).toEqual([{ id: page.offerFor(bread), available: '0' }]);
      }).finally(() => t.clock.set('2026-11-23T08:00:00+01:00'));
    });
  });
});
