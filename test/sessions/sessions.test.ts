import { randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { checkout, createHub, createProducer, createProduct, createSession, sessionView, stockOf } from '../support/scenarios.js';
import { lockedElsewhere } from '../support/locked-elsewhere.js';
import { statementsFor } from '../support/statements.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitForLockWait } from '../support/wait.js';

interface CreatePayload {
  createSalesSession: {
    salesSession: { id: string; status: string; opensAt: string; closesAt: string; timeZone: string; offers: { price: { amount: number; currency: string } }[] } | null;
    userErrors: { code: string; field: string[] | null; message: string }[];
  };
}

describe('sales sessions', () => {
  let t: TestApp;
  let hub: string;
  let carrots: string;

  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T08:00:00+01:00' });
    hub = await createHub(t.api, 'Hub A');
    carrots = await createProduct(t.api, await createProducer(t.api, 'Jean'), { name: 'Carrots', onHand: '10' });
  });
  beforeEach(() => t.clock.set('2026-11-23T08:00:00+01:00'));
  afterAll(() => t.stop());

  function create(input: Record<string, unknown>) {
    return t.api.data<CreatePayload>(op.CREATE_SALES_SESSION, {
      input: {
        hubId: hub,
        opensAt: '2026-11-23T09:00:00+01:00',
        closesAt: '2026-11-27T18:00:00+01:00',
        timeZone: 'Europe/Paris',
        offers: [{ productId: carrots, price: { amount: 320, currency: 'EUR' } }],
        ...input,
      },
    });
  }

  it('takes IANA names, links and fixed zones as PostgreSQL and luxon both know them', async () => {
    for (const timeZone of ['Asia/Kolkata', 'US/Eastern', 'Etc/GMT+5', 'UTC']) {
      const { createSalesSession } = await create({ timeZone });
      expect(createSalesSession.userErrors).toEqual([]);
      expect(createSalesSession.salesSession!.timeZone).toBe(timeZone);
    }
  });

  it('spells a time zone as tzdata does, so a retry spelt in another case is the same request', async () => {
    const first = await create({ timeZone: 'europe/paris', idempotencyKey: 'week-48' });
    expect(first.createSalesSession.salesSession!.timeZone).toBe('Europe/Paris');
    const retry = await create({ timeZone: 'EUROPE/PARIS', idempotencyKey: 'week-48' });
    expect(retry.createSalesSession).toEqual(first.createSalesSession);
  });

  it("shows its times in the session's own time zone", async () => {
    const { createSalesSession } = await create({ opensAt: '2026-11-23T08:00:00Z', closesAt: '2026-11-27T17:00:00Z' });
    expect(createSalesSession.salesSession).toMatchObject({
      opensAt: '2026-11-23T09:00:00+01:00',
      closesAt: '2026-11-27T18:00:00+01:00',
      timeZone: 'Europe/Paris',
      offers: [{ price: { amount: 320, currency: 'EUR' } }],
    });
  });

  it('keeps a Friday 18:00 close at 18:00 on both sides of a daylight-saving change', async () => {
    const winter = await create({ opensAt: '2027-03-22T09:00:00+01:00', closesAt: '2027-03-26T18:00:00+01:00' });
    const summer = await create({ opensAt: '2027-03-29T09:00:00+02:00', closesAt: '2027-04-02T18:00:00+02:00' });
    expect(winter.createSalesSession.salesSession!.closesAt).toBe('2027-03-26T18:00:00+01:00');
    expect(summer.createSalesSession.salesSession!.closesAt).toBe('2027-04-02T18:00:00+02:00');
  });

  it('follows the clock: SCHEDULED, OPEN, CLOSED, then COMPLETED once completed', async () => {
    const { createSalesSession } = await create({});
    const id = createSalesSession.salesSession!.id;
    expect(createSalesSession.salesSession!.status).toBe('SCHEDULED');
    t.clock.set('2026-11-23T09:00:00+01:00');
    const open = await sessionView(t.api, id);
    expect(open.status).toBe('OPEN');
    expect(open.offers[0]!.available).toBe((await stockOf(t.api, carrots)).available);
    t.clock.set('2026-11-27T18:00:00+01:00');
    const closed = await sessionView(t.api, id);
    expect(closed.status).toBe('CLOSED');
    // Closed by the clock: nothing more is sold, whatever the stock.
    expect(closed.offers[0]!.available).toBe('0');
    await t.app.scheduler.runOnce();
    expect((await sessionView(t.api, id)).status).toBe('COMPLETED');
  });

  it('lists a hub\'s sessions and a producer\'s products', async () => {
    const { hub: found } = await t.api.data<{ hub: { name: string; salesSessions: { id: string }[] } }>(
      'query ($id: ID!) { hub(id: $id) { name salesSessions { id } } }',
      { id: hub },
    );
    expect(found.name).toBe('Hub A');
    expect(found.salesSessions.length).toBeGreaterThan(1);
    const { hub: page } = await t.api.data<{ hub: { salesSessions: { id: string }[] } }>(
      'query ($id: ID!) { hub(id: $id) { salesSessions(first: 1) { id } } }',
      { id: hub },
    );
    expect(page.salesSessions).toEqual([found.salesSessions[0]]);
  });

  it('lists a session\'s offers in the order the trader gave them', async () => {
    const farm = await createProducer(t.api, 'Ferme des Rangs');
    const products: string[] = [];
    for (const name of ['Zucchini', 'Apples', 'Leeks', 'Beets', 'Kale', 'Onions', 'Chard', 'Garlic']) products.push(await createProduct(t.api, farm, { name }));
    const listed = [products[3]!, products[0]!, products[7]!, products[5]!, products[1]!, products[6]!, products[2]!, products[4]!];
    const session = await createSession(t.api, await createHub(t.api, 'Aisle Hub'), { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-27T18:00:00+01:00', products: listed });
    expect(session.offers.map((o) => o.product.id)).toEqual(listed);
    expect((await sessionView(t.api, session.id)).offers.map((o) => o.product.id)).toEqual(listed);
  });

  it("pages through a hub's sessions, and reaches those open and to come however many came before", async () => {
    const weekly = await createHub(t.api, 'Weekly Hub');
    const session = (week: number) =>
      t.api.data<CreatePayload>(op.CREATE_SALES_SESSION, {
        input: {
          hubId: weekly, timeZone: 'Europe/Paris', offers: [],
          opensAt: DateTime.fromISO('2026-01-05T09:00:00+01:00').plus({ weeks: week }).toISO(),
          closesAt: DateTime.fromISO('2026-01-09T18:00:00+01:00').plus({ weeks: week }).toISO(),
        },
      }).then((r) => r.createSalesSession.salesSession!.id);
    // A year of weekly sessions, made before the first one opened.
    t.clock.set('2026-01-01T00:00:00+01:00');
    const ids: string[] = [];
    for (let week = 0; week < 52; week += 1) ids.push(await session(week));
    const list = (args: string) =>
      t.api.data<{ hub: { salesSessions: { id: string }[] } }>(`query ($id: ID!) { hub(id: $id) { salesSessions(${args}) { id } } }`, { id: weekly })
        .then((r) => r.hub.salesSessions.map((s) => s.id));

    // Page by page, in opening order, each page after the last one seen: every session once.
    const seen: string[] = [];
    for (let page = await list('first: 20'); page.length > 0; page = await list(`first: 20, after: "${seen.at(-1)}"`)) seen.push(...page);
    expect(seen).toEqual(ids);
    // On 23 November, the sessions not yet closed: this week's and the five to come.
    expect(await list('closesAfter: "2026-11-23T08:00:00+01:00"')).toEqual(ids.slice(46));
    expect(await list('first: 2, closesAfter: "2026-11-23T08:00:00+01:00"')).toEqual(ids.slice(46, 48));
    // A cursor that is no session of this hub is a bad request, not an empty page.
    const stray = await t.api.request(`query ($id: ID!) { hub(id: $id) { salesSessions(after: "${randomUUID()}") { id } } }`, { id: weekly });
    expect(stray.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it("reads hubs' sessions in one statement for a whole list that reaches them, however long the list", async () => {
    const open = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-27T18:00:00+01:00' };
    const farm = await createProducer(t.api, 'Ferme du Val');
    const leeks = await createProduct(t.api, farm, { name: 'Leeks', onHand: '100' });
    const hubs = [await createHub(t.api, 'North Hub'), await createHub(t.api, 'South Hub')];
    // Each hub sells in three sessions; the farm has an order in one or in several of them.
    const sessions: Awaited<ReturnType<typeof createSession>>[] = [];
    const hubOf = new Map<string, string>();
    for (const hubId of hubs) {
      for (let i = 0; i < 3; i += 1) {
        const session = await createSession(t.api, hubId, { ...open, products: [leeks] });
        sessions.push(session);
        hubOf.set(session.id, hubId);
      }
    }
    // The first two by opening time, then id: these all open at once.
    const firstTwoOf = (hubId: string) => sessions.filter((s) => hubOf.get(s.id) === hubId).map((s) => s.id).sort().slice(0, 2);

    const QUERY = 'query ($farm: ID!) { producerOrders(producerId: $farm) { hub { id salesSessions(first: 2) { id } } } }';
    const read = async (nonce?: string) => {
      const { producerOrders } = await t.api.data<{ producerOrders: { hub: { id: string; salesSessions: { id: string }[] } }[] }>(QUERY, { farm, nonce });
      for (const { hub } of producerOrders) expect(hub.salesSessions.map((s) => s.id)).toEqual(firstTwoOf(hub.id));
      return producerOrders.length;
    };
    const order = async (session: (typeof sessions)[number]) =>
      expect((await checkout(t.api, session.id, 'bench', [{ offerId: session.offerFor(leeks), quantity: '1' }])).userErrors).toEqual([]);

    await order(sessions[0]!);
    const forOne = await statementsFor(read);
    for (const session of sessions.slice(1)) await order(session);
    // Six orders, three at each hub.
    expect(await read()).toBe(6);
    expect(await statementsFor(read)).toBe(forOne);
  });

  describe('closing early', () => {
    it('stops checkouts at once and completes like a scheduled close', async () => {
      t.clock.set('2026-11-23T10:00:00+01:00');
      const { createSalesSession } = await create({});
      const session = createSalesSession.salesSession!;
      const offerId = (await sessionView(t.api, session.id)).offers[0]!.id;
      const order = await checkout(t.api, session.id, 'ali', [{ offerId, quantity: '2' }]);
      await t.api.data(op.CONFIRM_PAYMENT, { input: { customerOrderId: order.customerOrder!.id } });

      const { closeSalesSession } = await t.api.data<{ closeSalesSession: { salesSession: { status: string }; userErrors: unknown[] } }>(
        op.CLOSE_SALES_SESSION,
        { input: { salesSessionId: session.id } },
      );
      expect(closeSalesSession.userErrors).toEqual([]);
      expect(['CLOSED', 'COMPLETED']).toContain(closeSalesSession.salesSession.status);

      const late = await checkout(t.api, session.id, 'paul', [{ offerId, quantity: '1' }]);
      expect(late.userErrors).toEqual([expect.objectContaining({ code: 'SESSION_NOT_OPEN' })]);

      await t.app.scheduler.runOnce();
      const view = await sessionView(t.api, session.id);
      expect(view.status).toBe('COMPLETED');
      expect(view.producerOrders[0]).toMatchObject({ orderState: 'COMPLETE', fulfilmentState: 'UNFULFILLED', lines: [{ quantity: '2' }] });

      // The carrots are still in stock, for other sessions; this one sells nothing more, read
      // from the catalogue page or from an order's line alike.
      expect(Number((await stockOf(t.api, carrots)).available)).toBeGreaterThan(0);
      expect(view.offers).toEqual([{ id: offerId, available: '0', product: { id: carrots } }]);
      const { customerOrder } = await t.api.data<{ customerOrder: { lines: { offer: { available: string } }[] } }>(
        'query ($id: ID!) { customerOrder(id: $id) { lines { offer { available } } } }',
        { id: order.customerOrder!.id },
      );
      expect(customerOrder.lines).toEqual([{ offer: { available: '0' } }]);

      const again = await t.api.data<{ closeSalesSession: { salesSession: { status: string }; userErrors: unknown[] } }>(
        op.CLOSE_SALES_SESSION,
        { input: { salesSessionId: session.id } },
      );
      expect(again.closeSalesSession).toEqual({ salesSession: { id: session.id, status: 'COMPLETED' }, userErrors: [] });
    });

    it('refuses another hub at once, without waiting for the checkouts in flight (it takes no lock)', async () => {
      t.clock.set('2026-11-23T10:00:00+01:00');
      const session = (await create({})).createSalesSession.salesSession!;
      const stranger = await t.as({ role: 'hub', hubId: await createHub(t.api, 'Stranger Hub') });
      // A checkout in flight: the session locked shared, as checkouts lock it.
      const inFlight = await lockedElsewhere(t.db, 'SELECT 1 FROM sales_session WHERE id = $1 FOR KEY SHARE', [session.id]);
      try {
        const answer = await Promise.race([
          stranger.request<{ closeSalesSession: unknown }>(op.CLOSE_SALES_SESSION, { input: { salesSessionId: session.id } }),
          waitForLockWait(t.db, 'the close to wait for the lock').then(() => 'waited for the lock' as const),
        ]);
        expect(answer).toMatchObject({ data: { closeSalesSession: { salesSession: null, userErrors: [{ code: 'FORBIDDEN', field: ['salesSessionId'] }] } } });
      } finally {
        await inFlight.release();
      }
      expect((await sessionView(t.api, session.id)).status).toBe('OPEN');
    });

    it('leaves the hub\'s list of sessions open and to come', async () => {
      const hubId = await createHub(t.api, 'Early Hub');
      t.clock.set('2026-11-23T10:00:00+01:00');
      const [kept, closed] = await Promise.all([0, 1].map(async () => (await create({ hubId })).createSalesSession.salesSession!.id));
      await t.api.data(op.CLOSE_SALES_SESSION, { input: { salesSessionId: closed } });
      const { hub: found } = await (await t.as()).data<{ hub: { salesSessions: { id: string }[] } }>(
        'query ($id: ID!, $now: DateTime!) { hub(id: $id) { salesSessions(closesAfter: $now) { id } } }',
        { id: hubId, now: '2026-11-23T10:00:00+01:00' },
      );
      expect(found.salesSessions).toEqual([{ id: kept }]);
    });

    it('answers an unknown session with NOT_FOUND', async () => {
      const { closeSalesSession } = await t.api.data<{ closeSalesSession: { userErrors: { code: string }[] } }>(
        op.CLOSE_SALES_SESSION,
        { input: { salesSessionId: randomUUID() } },
      );
      expect(closeSalesSession.userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND', field: ['salesSessionId'] })]);
    });
  });

  describe('bad input creates nothing', () => {
    const cases: [string, Record<string, unknown>, { code: string; field: string[] }[]][] = [
      ['a malformed time zone', { timeZone: 'Paris/France' }, [{ code: 'INVALID_INPUT', field: ['timeZone'] }]],
      // Abbreviations luxon takes for one zone among several (BST: Bangladesh to it, not Britain).
      ['an abbreviation for a time zone', { timeZone: 'BST' }, [{ code: 'INVALID_INPUT', field: ['timeZone'] }]],
      ['a time zone tzdata has dropped', { timeZone: 'US/Pacific-New' }, [{ code: 'INVALID_INPUT', field: ['timeZone'] }]],
      ['closesAt before opensAt', { closesAt: '2026-11-23T08:30:00+01:00' }, [{ code: 'INVALID_INPUT', field: ['closesAt'] }]],
      ['closesAt equal to opensAt', { closesAt: '2026-11-23T09:00:00+01:00' }, [{ code: 'INVALID_INPUT', field: ['closesAt'] }]],
      ['a session that closed already', { opensAt: '2026-11-20T09:00:00+01:00', closesAt: '2026-11-22T18:00:00+01:00' }, [{ code: 'INVALID_INPUT', field: ['closesAt'] }]],
      ['an unknown hub', { hubId: randomUUID() }, [{ code: 'NOT_FOUND', field: ['hubId'] }]],
      ['an unknown product', { offers: [{ productId: randomUUID(), price: { amount: 100, currency: 'EUR' } }] }, [{ code: 'NOT_FOUND', field: ['offers', '0', 'productId'] }]],
      ['a product offered twice', { offers: [{ productId: 'P', price: { amount: 1, currency: 'EUR' } }, { productId: 'P', price: { amount: 1, currency: 'EUR' } }] }, [
        { code: 'NOT_FOUND', field: ['offers', '0', 'productId'] },
        { code: 'INVALID_INPUT', field: ['offers', '1', 'productId'] },
        { code: 'NOT_FOUND', field: ['offers', '1', 'productId'] },
      ]],
      ['a negative price', { offers: [{ productId: 'C', price: { amount: -1, currency: 'EUR' } }] }, [{ code: 'INVALID_INPUT', field: ['offers', '0', 'price', 'amount'] }]],
      ['a made-up currency', { offers: [{ productId: 'C', price: { amount: 100, currency: 'euro' } }] }, [{ code: 'INVALID_INPUT', field: ['offers', '0', 'price', 'currency'] }]],
    ];

    it.each(cases)('refuses %s', async (_name, input, expected) => {
      const offers = (input.offers as { productId: string }[] | undefined)?.map((o) => ({ ...o, productId: o.productId === 'C' ? carrots : o.productId }));
      const { rows: before } = await t.db.query('SELECT count(*)::int AS n FROM sales_session');
      const { createSalesSession } = await create(offers ? { ...input, offers } : input);
      expect(createSalesSession.salesSession).toBeNull();
      expect(createSalesSession.userErrors.map(({ code, field }) => ({ code, field }))).toEqual(expected);
      const { rows: after } = await t.db.query('SELECT count(*)::int AS n FROM sales_session');
      expect(after[0].n).toBe(before[0].n);
    });

    it('refuses a date-time without an offset, or a date without a time, as a typed GraphQL error', async () => {
      const { rows: before } = await t.db.query('SELECT count(*)::int AS n FROM sales_session');
      // A bare date would be midnight in the server's own zone; "-27" and "-11" are not offsets.
      for (const closesAt of ['2026-11-27T18:00:00', '2026-11-27', '2026-11']) {
        const response = await t.api.request(op.CREATE_SALES_SESSION, {
          input: { hubId: hub, opensAt: '2026-11-23T09:00:00+01:00', closesAt, timeZone: 'Europe/Paris', offers: [] },
        });
        expect(response.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect(response.errors?.[0]?.message).toContain('offset');
      }
      const { rows: after } = await t.db.query('SELECT count(*)::int AS n FROM sales_session');
      expect(after[0].n).toBe(before[0].n);
    });

    it("takes any zone's offset, up to ±14:00, refuses one beyond, and keeps times to the millisecond", async () => {
      const create = (opensAt: string, closesAt: string) => t.api.request<{ createSalesSession: { salesSession: { opensAt: string; closesAt: string } | null } }>(
        op.CREATE_SALES_SESSION, { input: { hubId: hub, opensAt, closesAt, timeZone: 'UTC', offers: [] } });
      const widest = await create('2026-11-24T08:00:00+14:00', '2026-11-24T08:00:00.123456-12:00');
      expect(widest.errors).toBeUndefined();
      expect(widest.data!.createSalesSession.salesSession).toMatchObject({ opensAt: '2026-11-23T18:00:00Z', closesAt: '2026-11-24T20:00:00.123Z' });
      const beyond = await create('2026-11-24T08:00:00+14:01', '2026-11-25T08:00:00Z');
      expect(beyond.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(beyond.errors?.[0]?.message).toContain('±14:00');
    });
  });
});
