// Many workers over real HTTP connections mix fulfilment with every other stock writer: stock
// adjustments (of lots and of stock kept outside lots), transfers, lots received, released and
// moved, lot swaps, shipments (as ordered, as listed, short, naming lots), locations added while
// all this runs (new stock levels mid-flight), checkouts with their payments, and a session closed
// and completed early. Seeded: RANDOM_SEED replays a run; RANDOM_OPS makes it longer.
//
// What must hold: no request fails (INTERNAL_SERVER_ERROR, SERVICE_UNAVAILABLE or any other
// GraphQL error; typed userErrors are expected outcomes), the server logs no error, PostgreSQL
// counts no deadlock in this database, and at checkpoints and at the end every level equals its
// ledger and the orders holding it, every lot equals its own ledger and is never negative, the
// released lots at a location never claim more than is on hand there, and every shipped producer
// order is FULFILLED once, its commitment ended and what it shipped left the ledger once.
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../../src/app.js';
import { signToken, type FoodhubClaims } from '../../src/auth/tokens.js';
import { loadConfig } from '../../src/config/config.js';
import { SHIP, SWAP } from '../fulfilment/support.js';
import { GraphQLClient } from '../support/graphql.js';
import { expectStatesConsistent, expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { seededRandom } from '../support/random.js';
import { ManualClock } from '../support/clock.js';
import { createTestDatabase, TEST_JWT_SECRET } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const SEED = Number(process.env.RANDOM_SEED ?? 20261125);
const OPS_PER_WORKER = Number(process.env.RANDOM_OPS ?? 30);
const WORKERS = 6;
/** Sessions closed before the run, each with confirmed orders of both producers: the orders to ship. */
const CLOSED_SESSIONS = Math.max(4, Math.ceil((WORKERS * OPS_PER_WORKER) / 10));
/** Refusals the operations below may meet while others change the stock under them. */
const EXPECTED_USER_ERRORS = new Set(['INSUFFICIENT_STOCK', 'INVALID_STATE', 'INVALID_INPUT', 'NOT_FOUND', 'SESSION_NOT_OPEN']);

const U = 'userErrors { field message code }';
const ADJUST = `mutation ($input: AdjustStockInput!) { adjustStock(input: $input) { product { id } ${U} } }`;
const TRANSFER = `mutation ($input: TransferStockInput!) { transferStock(input: $input) { product { id } ${U} } }`;
const RECEIVE = `mutation ($input: ReceiveLotInput!) { receiveLot(input: $input) { lot { id status kind } ${U} } }`;
const RELEASE = `mutation ($input: LotRefInput!) { releaseLot(input: $input) { lot { id status } ${U} } }`;
const MOVE = `mutation ($input: MoveLotInput!) { moveLot(input: $input) { lot { id location { id } } ${U} } }`;
const CREATE_LOCATION = `mutation ($input: CreateLocationInput!) { createLocation(input: $input) { location { id } ${U} } }`;
const ORDER_PICKS = `query ($p: ID, $s: ID) { producerOrders(producerId: $p, salesSessionId: $s, first: 1) {
  id fulfilmentState pickLines { product { id } quantity lots { lot { id } quantity pinned } untracked { quantity } short } } }`;
const PICK_LIST = `query ($p: ID!, $d: String!) { pickList(producerId: $p, deliveryDay: $d) {
  items { product { id } quantity short lots { lot { id } quantity } untracked { location { id } quantity } } zones { location { id } } } }`;
const SESSION_ORDERS = 'query ($s: ID) { producerOrders(salesSessionId: $s) { id orderState fulfilmentState producer { id } lines { product { id } } } }';

const OPENS = '2026-11-23T07:00:00+01:00';
const CLOSED_AT = '2026-11-23T08:00:00+01:00';
const RUN_AT = '2026-11-23T08:30:00+01:00';
const OPEN_UNTIL = '2026-11-23T20:00:00+01:00';
const END_OF_DAY = '2026-11-24T08:00:00+01:00';
const DELIVERIES = ['2026-11-25T08:00:00+01:00', '2026-11-26T10:00:00+01:00'];
const DELIVERY_DAYS = ['2026-11-25', '2026-11-26'];
const BEST_BEFORE = [null, '2026-11-27', '2026-12-03', '2026-12-20'];
const GRADES = ['EXTRA', 'CLASS_I', 'CLASS_II'];

interface UserError { field: string[] | null; message: string; code: string }
interface Payload { userErrors: UserError[]; [key: string]: unknown }
interface Producer { id: string; client: GraphQLClient; locations: string[] }
interface Product { id: string; producer: number }
interface Lot { id: string; product: number; kind: 'BATCH' | 'ITEM'; released: boolean }
interface ProducerOrder { id: string; producer: number; sessionId: string; products: string[] }
interface PickLineShape {
  product: { id: string };
  quantity: string;
  lots: { lot: { id: string }; quantity: string; pinned: boolean }[];
  untracked: { quantity: string }[];
  short: string;
}
interface Failure { op: string; input: unknown; status?: number; errors: unknown }

/** Quantities in thousandths, the API's precision, so the test does exact arithmetic. */
const milli = (q: string) => Math.round(Number(q) * 1000);
const qty = (m: number) => `${m < 0 ? '-' : ''}${Math.floor(Math.abs(m) / 1000)}.${String(Math.abs(m) % 1000).padStart(3, '0')}`;

describe(`random fulfilment (seed ${SEED}, ${WORKERS} workers x ${OPS_PER_WORKER} operations)`, () => {
  let databaseUrl: string;
  let app: Awaited<ReturnType<typeof startApp>> | undefined;
  let db: pg.Pool;
  const clock = new ManualClock('2026-11-23T07:30:00+01:00');
  /** What the server logged at error level or above (it also goes to stdout, as JSON lines). */
  const serverErrors: string[] = [];

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    const config = loadConfig({ NODE_ENV: 'test', PORT: '0', SCHEDULER_INTERVAL: 'PT1H', DATABASE_POOL_SIZE: '16', HOLD_DURATION: 'PT2H', JWT_SECRET: TEST_JWT_SECRET,
      ...(process.env.LOCATION_STRATEGY ? { LOCATION_STRATEGY: process.env.LOCATION_STRATEGY } : {}) });
    // The test app's logger, and a copy of each line at error level or above for the assertions.
    const logs = new Writable({
      write(chunk: Buffer, _encoding, done) {
        const line = chunk.toString();
        process.stdout.write(line);
        if ((JSON.parse(line) as { level: number }).level >= 50) serverErrors.push(line.trim());
        done();
      },
    });
    app = await startApp({ config, databaseUrl, clock, logger: pino({ level: 'warn', base: { service: 'foodhub-wholesale', pid: process.pid } }, logs) });
    db = new pg.Pool({ connectionString: databaseUrl, max: 8 });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.end();
  });

  it('never fails a request, never deadlocks, and keeps levels, ledger, lots and shipments consistent', { timeout: 600_000 }, async () => {
    const random = seededRandom(SEED);
    const as = async (claims: FoodhubClaims) => new GraphQLClient(app!.url, await signToken(TEST_JWT_SECRET, claims));
    const admin = await as({ role: 'admin' });
    const failures: Failure[] = [];
    const unexpected: { op: string; input: unknown; userErrors: UserError[] }[] = [];
    const outcomes: Record<string, number> = {};
    const count = (key: string) => (outcomes[key] = (outcomes[key] ?? 0) + 1);
    /** One message for each kind of refusal, to show what the run met. */
    const examples: Record<string, string> = {};

    /** Sends one operation; records a failed request, counts the outcome, returns the payload when it got one. */
    const call = async (client: GraphQLClient, name: string, document: string, variables: Record<string, unknown>, { expected = EXPECTED_USER_ERRORS } = {}) => {
      let response: Awaited<ReturnType<GraphQLClient['request']>>;
      try {
        response = await client.request<Record<string, Payload>>(document, variables);
      } catch (error) {
        failures.push({ op: name, input: variables, errors: String(error) });
        count(`${name}: no answer`);
        return undefined;
      }
      if (response.status !== 200 || response.errors?.length || !response.data) {
        failures.push({ op: name, input: variables, status: response.status, errors: response.errors });
        count(`${name}: ${response.errors?.[0]?.extensions?.code ?? response.status}`);
        return undefined;
      }
      const payload = Object.values(response.data)[0] as Payload;
      const codes = (payload.userErrors ?? []).map((e) => e.code);
      if (codes.some((code) => !expected.has(code))) unexpected.push({ op: name, input: variables, userErrors: payload.userErrors });
      count(`${name}: ${codes[0] ?? 'ok'}`);
      if (codes[0]) examples[`${name}: ${codes[0]}`] ??= payload.userErrors[0]!.message;
      return payload;
    };
    /** A setup step that must work. */
    const made = async <T>(client: GraphQLClient, document: string, variables: Record<string, unknown>): Promise<T> => {
      const payload = await call(client, 'setup', document, variables);
      if (!payload || payload.userErrors.length > 0) throw new Error(`setup failed: ${JSON.stringify({ variables, payload, failures })}`);
      return payload as unknown as T;
    };

    // --- The world: two producers with two or three locations each, three products each, lots of
    // every kind, stock outside lots; hubs with closed sessions (confirmed orders: UNFULFILLED
    // producer orders to pick and ship) and two open sessions.
    const producers: Producer[] = [];
    for (const name of ['Farm', 'Dairy']) {
      const { id } = (await made<{ producer: { id: string } }>(admin, op.CREATE_PRODUCER, { input: { name } })).producer;
      const { producer } = await admin.data<{ producer: { locations: { id: string }[] } }>('query ($id: ID!) { producer(id: $id) { locations { id } } }', { id });
      producers.push({ id, client: await as({ role: 'producer', producerId: id }), locations: producer.locations.map((l) => l.id) });
    }
    for (const [i, p] of producers.entries()) {
      for (let n = 0, stores = random.int(1, 2); n < stores; n += 1) {
        const created = await made<{ location: { id: string } }>(p.client, CREATE_LOCATION, { input: { producerId: p.id, name: `Store ${i}.${n}`, priority: n + 2 } });
        p.locations.push(created.location.id);
      }
    }
    const products: Product[] = [];
    const lots: Lot[] = [];
    for (const [i, p] of producers.entries()) {
      for (const name of ['Apples', 'Cheese', 'Leeks']) {
        const created = await made<{ product: { id: string } }>(p.client, op.CREATE_PRODUCT, { input: { producerId: p.id, name: `${name} ${i}`, sku: `${name}-${i}`, unit: 'kg' } });
        const product: Product = { id: created.product.id, producer: i };
        products.push(product);
        for (const locationId of p.locations) {
          if (random.chance(0.7)) await made(p.client, ADJUST, { input: { productId: product.id, locationId, delta: String(random.int(20, 60) + 3 * CLOSED_SESSIONS) } });
        }
        for (let n = 0, count = random.int(2, 4); n < count; n += 1) {
          const item = random.chance(0.3);
          const released = random.chance(0.75);
          const received = await made<{ lot: { id: string } }>(p.client, RECEIVE, {
            input: {
              productId: product.id, code: `S-${products.length}-${n}`, kind: item ? 'ITEM' : 'BATCH', quantity: item ? String(random.pick([2, 3.5, 5])) : String(random.int(4, 20)),
              grade: random.pick(GRADES), bestBefore: random.pick(BEST_BEFORE), locationId: random.pick(p.locations), released,
            },
          });
          lots.push({ id: received.lot.id, product: products.length - 1, kind: item ? 'ITEM' : 'BATCH', released });
        }
      }
    }
    const hubs: { id: string; client: GraphQLClient }[] = [];
    for (let i = 0; i < 3; i += 1) {
      const { id } = (await made<{ hub: { id: string } }>(admin, op.CREATE_HUB, { input: { name: `Hub ${i}` } })).hub;
      hubs.push({ id, client: await as({ role: 'hub', hubId: id }) });
      // Each producer lets the hub offer its products, as producers choose their hubs.
      for (const p of producers) await made(p.client, 'mutation ($input: HubApprovalInput!) { approveHub(input: $input) { userErrors { field message code } } }', { input: { producerId: p.id, hubId: id } });
    }
    type Session = { id: string; hub: number; offerFor: Map<string, string> };
    const createSession = async (hub: number, closesAt: string, deliversAt: string): Promise<Session> => {
      const { salesSession: session } = await made<{ salesSession: { id: string; offers: { id: string; product: { id: string } }[] } }>(hubs[hub]!.client, op.CREATE_SALES_SESSION.replace('offers {', 'deliversAt offers {'), {
        input: {
          hubId: hubs[hub]!.id, opensAt: OPENS, closesAt, deliversAt, timeZone: 'Europe/Paris',
          offers: products.map((p) => ({
            productId: p.id, price: { amount: 300, currency: 'EUR' },
            // Criteria on some offers: their lines pick only some lots, and shipments move commitments.
            ...(random.chance(0.25) ? { minGrade: random.pick(['EXTRA', 'CLASS_I']) } : {}),
            ...(random.chance(0.15) ? { minShelfLifeDays: random.pick([3, 10]) } : {}),
          })),
        },
      });
      return { id: session.id, hub, offerFor: new Map(session.offers.map((o) => [o.product.id, o.id])) };
    };
    const basket = (rnd: ReturnType<typeof seededRandom>, session: Session) =>
      [...new Set(Array.from({ length: rnd.int(1, 3) }, () => rnd.pick(products).id))].map((productId) => ({
        offerId: session.offerFor.get(productId)!, quantity: rnd.pick(['0.5', '1', '2', '3.5']),
      }));
    const closed: Session[] = [];
    for (let s = 0; s < CLOSED_SESSIONS; s += 1) {
      const session = await createSession(s % hubs.length, CLOSED_AT, DELIVERIES[s % 2]!);
      closed.push(session);
      // Every producer sells in every closed session: one line of each, then a few more baskets.
      const baskets = [
        producers.map((_, i) => ({ offerId: session.offerFor.get(random.pick(products.filter((p) => p.producer === i)).id)!, quantity: random.pick(['1', '2', '3.5']) })),
        ...Array.from({ length: random.int(1, 3) }, () => basket(random, session)),
      ];
      for (const [n, lines] of baskets.entries()) {
        const placed = await call(hubs[session.hub]!.client, 'setup', op.CHECKOUT, { input: { salesSessionId: session.id, customerRef: `c${s}.${n}`, idempotencyKey: `setup-${s}-${n}`, lines } });
        const order = (placed as { customerOrder?: { id: string } | null } | undefined)?.customerOrder;
        if (order) await made(hubs[session.hub]!.client, op.CONFIRM_PAYMENT, { input: { customerOrderId: order.id } });
      }
    }
    const open = [await createSession(0, OPEN_UNTIL, DELIVERIES[1]!), await createSession(1, OPEN_UNTIL, DELIVERIES[0]!)];
    clock.set(RUN_AT);
    await app!.scheduler.runOnce();

    const orders: ProducerOrder[] = [];
    const ordersOf = async (sessionId: string, state = 'UNFULFILLED') => {
      const { producerOrders } = await admin.data<{ producerOrders: { id: string; fulfilmentState: string; producer: { id: string }; lines: { product: { id: string } }[] }[] }>(SESSION_ORDERS, { s: sessionId });
      return producerOrders
        .filter((o) => o.fulfilmentState === state)
        .map((o) => ({ id: o.id, producer: producers.findIndex((p) => p.id === o.producer.id), sessionId, products: o.lines.map((l) => l.product.id) }));
    };
    for (const session of closed) orders.push(...(await ordersOf(session.id)));
    // A basket in each open session: their producer orders are HELD, which nobody can swap or ship yet.
    for (const [s, session] of open.entries()) {
      const lines = producers.map((_, i) => ({ offerId: session.offerFor.get(random.pick(products.filter((p) => p.producer === i)).id)!, quantity: '0.5' }));
      const placed = await call(hubs[session.hub]!.client, 'setup', op.CHECKOUT, { input: { salesSessionId: session.id, customerRef: `early${s}`, idempotencyKey: `early-${s}`, lines } });
      const order = (placed as { customerOrder?: { id: string } | null } | undefined)?.customerOrder;
      if (order) await made(hubs[session.hub]!.client, op.CONFIRM_PAYMENT, { input: { customerOrderId: order.id } });
    }
    const held = (await Promise.all(open.map((session) => ordersOf(session.id, 'HELD')))).flat();
    // The setup went as planned: nothing refused but checkouts short of stock, and orders to ship.
    expect(failures).toEqual([]);
    expect(unexpected.filter((u) => !u.userErrors.every((e) => e.code === 'INSUFFICIENT_STOCK'))).toEqual([]);
    expect(orders.length).toBeGreaterThanOrEqual(CLOSED_SESSIONS / 2);
    await expectStockConsistent(db);
    for (const key of Object.keys(outcomes)) delete outcomes[key];
    unexpected.length = 0;

    const deadlocksBefore = await deadlocks(db);

    // --- The run.
    const shipped = new Set<string>();
    const pending: { id: string; hub: number; sessionId: string }[] = [];
    let earlyClose: 'no' | 'closing' | 'done' = 'no';
    let stop = false;
    const lotsOf = (productIndex: number) => lots.filter((l) => l.product === productIndex);

    const orderPicks = async (client: GraphQLClient, order: ProducerOrder): Promise<PickLineShape[] | undefined> => {
      const response = await client.request<{ producerOrders: { id: string; fulfilmentState: string; pickLines: PickLineShape[] }[] }>(ORDER_PICKS, { p: producers[order.producer]!.id, s: order.sessionId });
      if (response.status !== 200 || response.errors?.length || !response.data) {
        failures.push({ op: 'pickLines', input: order, status: response.status, errors: response.errors });
        count('pickLines: failed');
        return undefined;
      }
      const found = response.data.producerOrders.find((o) => o.id === order.id);
      return found?.fulfilmentState === 'UNFULFILLED' ? found.pickLines : undefined;
    };

    const worker = async (w: number) => {
      const rnd = seededRandom(SEED * 31 + w);
      for (let n = 0; n < OPS_PER_WORKER && !stop; n += 1) {
        if (rnd.chance(0.3)) {
          // A burst: two or three operations on one product at once, so that its levels, lots and
          // orders are contended, not merely touched in turn. Each has its own seeded choices.
          const focus = rnd.int(0, products.length - 1);
          // Often one of them a shipment or a swap: fulfilment against the other writers.
          const seeds = Array.from({ length: rnd.int(2, 3) }, () => rnd.int(0, 2 ** 31));
          const first = rnd.chance(0.5) ? rnd.pick([0.45 /* swapLot */, 0.55 /* shipProducerOrder */]) : undefined;
          // Sometimes behind a slow transaction that holds the product's levels a moment (as a big
          // session's completion does): the operations queue up and are let go together.
          const stall = rnd.chance(0.3) ? await holdLevels(products[focus]!.id) : undefined;
          const running = Promise.all(seeds.map((seed, j) => operation(w, `${n}.${j}`, seededRandom(seed), focus, j === 0 ? first : undefined)));
          if (stall) {
            await sleep(rnd.int(20, 60));
            await stall();
          }
          await running;
          count('(bursts)');
        } else {
          await operation(w, `${n}`, rnd);
        }
        if (n % 10 === 9) await checkpoint();
      }
    };

    /**
     * Locks the product's levels from a connection of the test's, in the order every writer takes
     * them (it waits for nothing else while it holds them, so it can be in no deadlock), until the
     * returned function commits.
     */
    const holdLevels = async (productId: string) => {
      const client = await db.connect();
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM stock_level WHERE product_id = $1 ORDER BY product_id, lock_seq FOR UPDATE', [productId]);
      count('(stalls)');
      return async () => {
        try {
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      };
    };

    /** A lot of the product: often one of the last few received (just counted, moved, released), else any. */
    const lotOf = (rnd: ReturnType<typeof seededRandom>, productIndex: number, which: (lot: Lot) => boolean = () => true) => {
      const candidates = lotsOf(productIndex).filter(which);
      if (candidates.length === 0) return undefined;
      return rnd.pick(rnd.chance(0.5) ? candidates.slice(-3) : candidates);
    };

    /**
     * One operation, picked at random; on the `focus` product when given (then only operations on
     * a product: stock writes, lots, swaps, shipments and checkouts).
     */
    const operation = async (w: number, tag: string, rnd: ReturnType<typeof seededRandom>, focus?: number, chosen?: number) => {
      const roll = chosen ?? (focus === undefined ? rnd.next() : rnd.next() * 0.81);
      const productIndex = focus ?? rnd.int(0, products.length - 1);
      const product = products[productIndex]!;
      const producer = producers[product.producer]!;
      const client = producer.client;
      if (roll < 0.09) {
        // A count or a write-off of stock kept outside lots, at a location or the first choice.
        const input: Record<string, unknown> = { productId: product.id, delta: rnd.pick(['4', '1.5', '-1', '-2.5', '-6']) };
        if (rnd.chance(0.6)) input.locationId = rnd.pick(producer.locations);
        await call(client, 'adjustStock', ADJUST, { input });
      } else if (roll < 0.17) {
        // A lot counted again: its stock changes with it, up or down.
        const lot = lotOf(rnd, productIndex);
        if (!lot) return;
        await call(client, 'adjustStock(lot)', ADJUST, { input: { productId: product.id, lotId: lot.id, delta: rnd.pick(['2', '0.5', '-0.5', '-1', '-3']) } });
      } else if (roll < 0.24) {
        const [from, to] = [rnd.pick(producer.locations), rnd.pick(producer.locations)];
        if (from === to) return;
        await call(client, 'transferStock', TRANSFER, { input: { productId: product.id, fromLocationId: from, toLocationId: to, quantity: rnd.pick(['0.5', '2', '5']) } });
      } else if (roll < 0.31) {
        const item = rnd.chance(0.3);
        const released = rnd.chance(0.5);
        const input = {
          productId: product.id, code: `W${w}-${tag}`, kind: item ? 'ITEM' : 'BATCH', quantity: item ? rnd.pick(['2', '3.5']) : String(rnd.int(2, 12)),
          grade: rnd.pick(GRADES), bestBefore: rnd.pick(BEST_BEFORE), released,
          ...(rnd.chance(0.7) ? { locationId: rnd.pick(producer.locations) } : {}),
        };
        const payload = await call(client, 'receiveLot', RECEIVE, { input });
        const lot = (payload as { lot?: { id: string } } | undefined)?.lot;
        if (lot) {
          lots.push({ id: lot.id, product: productIndex, kind: item ? 'ITEM' : 'BATCH', released });
          // Counted at once, as goods are when they come in: some of it is written off.
          if (released && rnd.chance(0.5)) {
            await call(client, 'adjustStock(lot)', ADJUST, { input: { productId: product.id, lotId: lot.id, delta: rnd.pick(['-0.5', '-1']) } });
          }
          // Sent again (its answer lost): the same lot, nothing more received.
          if (rnd.chance(0.15)) {
            const again = await call(client, 'receiveLot(repeat)', RECEIVE, { input }, { expected: new Set() });
            expect.soft((again as { lot?: { id: string } } | undefined)?.lot?.id).toBe(lot.id);
          }
        }
      } else if (roll < 0.36) {
        const lot = (rnd.chance(0.8) ? lotOf(rnd, productIndex, (l) => !l.released) : undefined) ?? lotOf(rnd, productIndex);
        if (!lot) return;
        const payload = await call(client, 'releaseLot', RELEASE, { input: { lotId: lot.id } });
        if (payload && payload.userErrors.length === 0) lot.released = true;
      } else if (roll < 0.42) {
        const lot = lotOf(rnd, productIndex);
        if (!lot) return;
        await call(client, 'moveLot', MOVE, { input: { lotId: lot.id, toLocationId: rnd.pick(producer.locations) } });
      } else if (roll < 0.51) {
        // A picker takes another lot than the one suggested.
        const order = pickOrder(rnd, focus === undefined ? undefined : product.id);
        if (!order) return;
        const lines = await orderPicks(producers[order.producer]!.client, order);
        const withLots = (lines ?? []).filter((l) => l.lots.length > 0 && (focus === undefined || l.product.id === product.id));
        const line = withLots.length > 0 ? rnd.pick(withLots) : undefined;
        if (!line) {
          count('swapLot: nothing to swap');
          return;
        }
        const from = rnd.pick(line.lots).lot.id;
        const index = products.findIndex((p) => p.id === line.product.id);
        const to = (rnd.chance(0.85) ? lotOf(rnd, index, (l) => l.released && l.id !== from) : undefined) ?? lotOf(rnd, index, (l) => l.id !== from);
        if (!to) return;
        await call(producers[order.producer]!.client, 'swapLot', SWAP, { input: { producerOrderId: order.id, productId: line.product.id, fromLotId: from, toLotId: to.id } });
      } else if (roll < 0.63) {
        const order = pickOrder(rnd, focus === undefined ? undefined : product.id);
        if (order) await shipOne(order, `${w}-${tag}`, rnd);
      } else if (roll < 0.66) {
        // A new location: every product of the producer gets a level there, while writers run.
        const payload = await call(client, 'createLocation', CREATE_LOCATION, { input: { producerId: producer.id, name: `Shed ${w}-${tag}`, priority: rnd.int(1, 4) } });
        const location = (payload as { location?: { id: string } } | undefined)?.location;
        if (location) producer.locations.push(location.id);
      } else if (roll < 0.81) {
        const session = rnd.pick(earlyClose === 'no' ? open : [open[0]!]);
        const hub = hubs[session.hub]!;
        const lines = basket(rnd, session);
        if (focus !== undefined && !lines.some((l) => l.offerId === session.offerFor.get(product.id))) lines.push({ offerId: session.offerFor.get(product.id)!, quantity: '1' });
        const payload = await call(hub.client, 'checkout', op.CHECKOUT, {
          input: { salesSessionId: session.id, customerRef: `w${w}-${tag}`, idempotencyKey: `w${w}-${tag}`, lines },
        });
        const order = (payload as { customerOrder?: { id: string } | null } | undefined)?.customerOrder;
        if (order) {
          const next = rnd.next();
          if (next < 0.5) await call(hub.client, 'confirmPayment', op.CONFIRM_PAYMENT, { input: { customerOrderId: order.id } });
          else if (next < 0.7) await call(hub.client, 'failPayment', op.FAIL_PAYMENT, { input: { customerOrderId: order.id } });
          else pending.push({ id: order.id, hub: session.hub, sessionId: session.id });
        }
      } else if (roll < 0.9) {
        if (pending.length === 0) return;
        const [order] = pending.splice(rnd.int(0, pending.length - 1), 1);
        const mutation = rnd.pick([op.CONFIRM_PAYMENT, op.CONFIRM_PAYMENT, op.FAIL_PAYMENT, op.CANCEL_CUSTOMER_ORDER]);
        const name = mutation === op.CONFIRM_PAYMENT ? 'confirmPayment' : mutation === op.FAIL_PAYMENT ? 'failPayment' : 'cancelCustomerOrder';
        await call(hubs[order!.hub]!.client, name, mutation, { input: { customerOrderId: order!.id } });
      } else if (roll < 0.97) {
        const response = await client.request(PICK_LIST, { p: producer.id, d: rnd.pick(DELIVERY_DAYS) });
        if (response.status !== 200 || response.errors?.length) failures.push({ op: 'pickList', input: { producer: producer.id }, status: response.status, errors: response.errors });
        count(`pickList: ${response.errors?.[0]?.extensions?.code ?? 'ok'}`);
      } else if (earlyClose === 'no') {
        // The second open session closes early and completes while everything else runs: its
        // producer orders become UNFULFILLED and join the orders to ship.
        earlyClose = 'closing';
        const session = open[1]!;
        await call(hubs[session.hub]!.client, 'closeSalesSession', op.CLOSE_SALES_SESSION, { input: { salesSessionId: session.id } });
        // Completion waits for the session's unpaid orders: pay them first.
        for (const order of pending.filter((p) => p.sessionId === session.id)) {
          pending.splice(pending.indexOf(order), 1);
          await call(hubs[order.hub]!.client, 'confirmPayment', op.CONFIRM_PAYMENT, { input: { customerOrderId: order.id } });
        }
        await app!.scheduler.runOnce();
        orders.push(...(await ordersOf(session.id)));
        earlyClose = 'done';
        count('early close');
      }
    };

    /**
     * An order to pick or ship (one with a line of `productId`, when given): mostly one not known
     * to have shipped; sometimes any, shipped or not.
     */
    const pickOrder = (rnd: ReturnType<typeof seededRandom>, productId?: string) => {
      const selling = orders.filter((o) => productId === undefined || o.products.includes(productId));
      const waiting = selling.filter((o) => !shipped.has(o.id));
      if (rnd.chance(0.05) && held.length > 0) return rnd.pick(held); // its session still open: INVALID_STATE, or its own once closed early
      return selling.length === 0 ? undefined : rnd.pick(waiting.length > 0 && rnd.chance(0.85) ? waiting : selling);
    };

    const shipOne = async (order: ProducerOrder, tag: string, rnd: ReturnType<typeof seededRandom>) => {
      const client = producers[order.producer]!.client;
      const input: Record<string, unknown> = { producerOrderId: order.id, carrier: 'Van', trackingReference: `T-${tag}` };
      if (rnd.chance(0.6)) {
        // The lines as the producer lists them, read from the pick list just before: in full,
        // short, or none of a product; from the suggested lots, lots named, or stock outside lots.
        const lines = await orderPicks(client, order);
        if (lines) {
          input.lines = lines.map((line) => {
            const ordered = milli(line.quantity);
            const amount = rnd.pick([ordered, ordered, Math.floor((ordered * rnd.int(1, 9)) / 10), 0]);
            const choice = rnd.next();
            if (choice < 0.4) return { productId: line.product.id, quantity: qty(amount) }; // the suggested lots
            if (choice < 0.55) return { productId: line.product.id, quantity: qty(amount), lots: [] }; // nothing from lots
            const named: { lotId: string; quantity: string }[] = [];
            let left = amount;
            if (choice < 0.85) {
              for (const pick of line.lots) {
                const take = Math.min(left, milli(pick.quantity));
                if (take <= 0) break;
                named.push({ lotId: pick.lot.id, quantity: qty(take) });
                left -= take;
              }
            } else {
              const lot = lotOf(rnd, products.findIndex((p) => p.id === line.product.id));
              if (lot && left > 0) named.push({ lotId: lot.id, quantity: qty(Math.max(1, Math.floor(left / 2))) });
            }
            return { productId: line.product.id, quantity: qty(amount), lots: named };
          });
        }
      }
      const payload = await call(client, input.lines ? 'ship(lines)' : 'ship', SHIP, { input });
      if (payload && payload.userErrors.length === 0) {
        shipped.add(order.id);
        const state = (payload as { producerOrder?: { fulfilmentState: string } }).producerOrder?.fulfilmentState;
        expect.soft(state, `order ${order.id} answered as shipped`).toBe('FULFILLED');
        // Sent again (its answer lost): the order as shipped, nothing ships twice.
        if (rnd.chance(0.2)) await call(client, 'ship(repeat)', SHIP, { input }, { expected: new Set() });
      }
    };

    const checkpoint = async () => {
      await expectStockConsistent(db);
      await expectStatesConsistent(db);
      await expectLotsConsistent(db);
    };

    const results = await Promise.allSettled(Array.from({ length: WORKERS }, (_, w) => worker(w).catch((error) => {
      stop = true;
      throw error;
    })));
    const crashed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (crashed) throw crashed.reason;

    // --- The end of the day: every session closes and completes.
    clock.set(END_OF_DAY);
    await app!.scheduler.runOnce();
    await app!.scheduler.runOnce();

    console.log(`random fulfilment, seed ${SEED}: ${orders.length} producer orders, ${shipped.size} shipped; outcomes ${JSON.stringify(Object.fromEntries(Object.entries(outcomes).sort()), null, 1)}`);
    if (process.env.RANDOM_VERBOSE) console.log(examples);

    // Every request was answered, and only with the refusals expected.
    expect.soft(failures, 'requests that failed').toEqual([]);
    expect.soft(unexpected, 'unexpected userErrors').toEqual([]);

    // PostgreSQL counts a deadlock in the database's statistics, which a backend sends when it
    // is idle a while or when it ends: the server stops (its connections end) before they are read.
    await app!.stop();
    app = undefined;
    await waitFor('the server\'s connections to end', async () => {
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'",
      );
      return rows[0]!.n <= db.totalCount ? true : undefined;
    });
    expect.soft((await deadlocks(db)) - deadlocksBefore, 'deadlocks PostgreSQL counted').toBe(0);
    expect.soft(serverErrors, 'errors the server logged').toEqual([]);

    await expectStockConsistent(db);
    await expectStatesConsistent(db);
    await expectLotsConsistent(db);
    const { rows: unfinished } = await db.query('SELECT id FROM sales_session WHERE completed_at IS NULL');
    expect(unfinished).toEqual([]);

    // Every order answered as shipped is FULFILLED, and only those.
    const { rows: fulfilled } = await db.query<{ id: string }>("SELECT id FROM producer_order WHERE fulfilment_state = 'FULFILLED' ORDER BY id");
    expect(fulfilled.map((r) => r.id)).toEqual([...shipped].sort());
    expect(shipped.size).toBeGreaterThan(0); // the run shipped something, not only refusals
    await expectShipmentsConsistent(db);
  });
});

async function deadlocks(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ deadlocks: string }>('SELECT deadlocks::text FROM pg_stat_database WHERE datname = current_database()');
  return Number(rows[0]!.deadlocks);
}

/**
 * Lots, at one snapshot: never negative; each equal to its own ledger (what was received,
 * adjusted, moved and shipped with its id), all of it at the lot's location, nothing for a lot in
 * quarantine; and the released lots at a location never more than the stock on hand there (the
 * rest is stock kept outside lots).
 */
async function expectLotsConsistent(db: pg.Pool): Promise<void> {
  const { rows } = await db.query(`
    SELECT 'negative lot' AS problem, l.id::text, l.quantity::text AS detail FROM lot l WHERE l.quantity < 0
    UNION ALL
    SELECT 'lot differs from its ledger', l.id::text,
           l.status || ' ' || l.quantity || ' at its location, ledger ' || coalesce(m.here, 0) || ' there and ' || coalesce(m.elsewhere, 0) || ' elsewhere'
      FROM lot l
      LEFT JOIN (SELECT lot_id, sum(on_hand_delta) FILTER (WHERE here) AS here, sum(on_hand_delta) FILTER (WHERE NOT here) AS elsewhere
                   FROM (SELECT m.lot_id, m.on_hand_delta, m.location_id = l.location_id AS here
                           FROM stock_movement m JOIN lot l ON l.id = m.lot_id) x GROUP BY lot_id) m ON m.lot_id = l.id
     WHERE coalesce(m.here, 0) <> CASE l.status WHEN 'RELEASED' THEN l.quantity ELSE 0 END OR coalesce(m.elsewhere, 0) <> 0
    UNION ALL
    SELECT 'released lots exceed stock on hand', s.product_id::text || ' ' || s.location_id::text, s.on_hand || ' on hand, lots ' || sum(l.quantity)
      FROM stock_level s JOIN lot l ON l.product_id = s.product_id AND l.location_id = s.location_id AND l.status = 'RELEASED'
     GROUP BY s.product_id, s.location_id, s.on_hand HAVING sum(l.quantity) > s.on_hand`);
  expect(rows).toEqual([]);
}

/**
 * Shipments, after the run: a FULFILLED order has one shipment line per product it ordered, no
 * commitment left and no pins, its customers' lines add up to what shipped, and the ledger took
 * what shipped off the stock on hand once; an order not shipped has no shipment, its commitment
 * still equal to what its confirmed customers ordered, none of it below zero at any location.
 */
async function expectShipmentsConsistent(db: pg.Pool): Promise<void> {
  const { rows } = await db.query(`
    WITH ordered AS (
      SELECT l.producer_order_id, l.product_id, sum(l.quantity) AS quantity, sum(l.fulfilled_quantity) AS fulfilled,
             count(l.fulfilled_quantity) AS filled, count(*) AS lines
        FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
       WHERE o.status = 'CONFIRMED' GROUP BY l.producer_order_id, l.product_id),
    shipped AS (SELECT producer_order_id, product_id, count(*) AS n, sum(quantity) AS quantity, sum(ordered) AS ordered
                  FROM shipment_line GROUP BY producer_order_id, product_id),
    ledger AS (SELECT producer_order_id, product_id, sum(committed_delta) AS committed,
                      -sum(on_hand_delta) FILTER (WHERE kind = 'SHIP') AS left_stock, count(*) FILTER (WHERE kind = 'SHIP') AS ship_rows
                 FROM stock_movement WHERE producer_order_id IS NOT NULL GROUP BY producer_order_id, product_id)
    SELECT 'shipped order: product not shipped exactly once' AS problem, p.id::text, o.product_id::text AS detail
      FROM producer_order p JOIN ordered o ON o.producer_order_id = p.id LEFT JOIN shipped s ON s.producer_order_id = p.id AND s.product_id = o.product_id
     WHERE p.fulfilment_state = 'FULFILLED' AND coalesce(s.n, 0) <> 1
    UNION ALL
    SELECT 'shipment of an order not fulfilled', s.producer_order_id::text, s.product_id::text
      FROM shipped s JOIN producer_order p ON p.id = s.producer_order_id WHERE p.fulfilment_state <> 'FULFILLED'
    UNION ALL
    SELECT 'shipment differs from the order', s.producer_order_id::text, s.product_id || ': ordered ' || o.quantity || ', shipment says ' || s.ordered || ' ordered, ' || s.quantity || ' shipped'
      FROM shipped s JOIN ordered o USING (producer_order_id, product_id) WHERE s.ordered <> o.quantity OR s.quantity > o.quantity OR s.quantity < 0
    UNION ALL
    SELECT 'customer lines differ from the shipment', s.producer_order_id::text, s.product_id || ': shipped ' || s.quantity || ', lines get ' || coalesce(o.fulfilled::text, 'null')
      FROM shipped s JOIN ordered o USING (producer_order_id, product_id) WHERE o.filled <> o.lines OR o.fulfilled <> s.quantity
    UNION ALL
    SELECT 'ledger differs from the shipment', s.producer_order_id::text, s.product_id || ': shipped ' || s.quantity || ', ledger took ' || coalesce(g.left_stock::text, 'nothing')
      FROM shipped s LEFT JOIN ledger g USING (producer_order_id, product_id) WHERE coalesce(g.left_stock, 0) <> s.quantity
    UNION ALL
    SELECT 'stock shipped for an order not fulfilled', g.producer_order_id::text, g.product_id::text
      FROM ledger g JOIN producer_order p ON p.id = g.producer_order_id WHERE g.ship_rows > 0 AND p.fulfilment_state <> 'FULFILLED'
    UNION ALL
    SELECT 'commitment left after shipping', g.producer_order_id::text, g.product_id || ': ' || g.committed
      FROM ledger g JOIN producer_order p ON p.id = g.producer_order_id WHERE p.fulfilment_state = 'FULFILLED' AND g.committed <> 0
    UNION ALL
    SELECT 'commitment differs from the confirmed lines', p.id::text, o.product_id || ': ordered ' || o.quantity || ', committed ' || coalesce(g.committed, 0)
      FROM producer_order p JOIN ordered o ON o.producer_order_id = p.id LEFT JOIN ledger g ON g.producer_order_id = p.id AND g.product_id = o.product_id
     WHERE p.order_state = 'COMPLETE' AND p.fulfilment_state = 'UNFULFILLED' AND coalesce(g.committed, 0) <> o.quantity
    UNION ALL
    SELECT 'negative commitment at a location', producer_order_id::text, product_id || ' at ' || location_id || ': ' || sum(committed_delta)
      FROM stock_movement WHERE producer_order_id IS NOT NULL GROUP BY producer_order_id, product_id, location_id HAVING sum(committed_delta) < 0
    UNION ALL
    SELECT 'fulfilled order without shipped_at, or pins left', p.id::text, NULL
      FROM producer_order p WHERE p.fulfilment_state = 'FULFILLED' AND (p.shipped_at IS NULL OR EXISTS (SELECT 1 FROM lot_pick k WHERE k.producer_order_id = p.id))`);
  expect(rows).toEqual([]);
}
