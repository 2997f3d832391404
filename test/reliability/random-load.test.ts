// Many workers over real connections do random checkouts (some changing a basket checked out
// before), payments, failures, cancellations, stock adjustments, early closes, session
// cancellations and clock moves across products that several hubs sell, one hub with caps. At checkpoints and at the end every invariant must hold, and a producer's
// subscriber must have received exactly the committed reservation events. Seeded: RANDOM_SEED replays a run;
// RANDOM_OPS makes it longer (npm run test:stress).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { checkout, createHub, createProducer, createProduct, createSession, type CheckoutResult } from '../support/scenarios.js';
import { expectCapsConsistent, expectStatesConsistent, expectStockConsistent } from '../support/invariants.js';
import { seededRandom } from '../support/random.js';
import { RESERVATIONS, type ReservationEventShape, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const SEED = Number(process.env.RANDOM_SEED ?? 20261123);
const OPS_PER_WORKER = Number(process.env.RANDOM_OPS ?? 40);
const WORKERS = 8;
const EXPECTED_USER_ERRORS = ['INSUFFICIENT_STOCK', 'SESSION_NOT_OPEN', 'INVALID_STATE', 'HOLD_EXPIRED'];

describe(`random load (seed ${SEED}, ${WORKERS} workers x ${OPS_PER_WORKER} operations)`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T08:00:00+01:00', env: { DATABASE_POOL_SIZE: '16', HOLD_DURATION: 'PT20M' } });
  });
  afterAll(() => t.stop());

  it('keeps every invariant, and every committed event reaches the subscriber', async () => {
    const random = seededRandom(SEED);
    const producers = [await createProducer(t.api, 'Jean'), await createProducer(t.api, 'Marie')];
    const products: string[] = [];
    for (const [i, producer] of producers.entries()) {
      for (const name of ['A', 'B']) products.push(await createProduct(t.api, producer, { name: `${name}${i}`, onHand: String(random.int(20, 60)) }));
    }
    const sessions: Awaited<ReturnType<typeof createSession>>[] = [];
    for (const [i, closes] of ['2026-11-23T12:00:00+01:00', '2026-11-23T16:00:00+01:00', '2026-11-23T20:00:00+01:00'].entries()) {
      // The last hub takes at most 8 of each product this week: caps under the same load.
      const caps = i === 2 ? Object.fromEntries(products.map((p) => [p, '8'])) : undefined;
      sessions.push(await createSession(t.api, await createHub(t.api, `Hub ${i}`), { opensAt: '2026-11-23T08:00:00+01:00', closesAt: closes, products, caps }));
    }
    const subscriber = await subscribe<ReservationEventShape>(t.api, RESERVATIONS, { producerId: producers[0], after: '0' });
    const orders: string[] = [];
    const outcomes: Record<string, number> = {};
    const count = (key: string) => (outcomes[key] = (outcomes[key] ?? 0) + 1);

    const expectTyped = (result: { userErrors: { code: string }[] }) => {
      for (const error of result.userErrors) expect(EXPECTED_USER_ERRORS).toContain(error.code);
      count(result.userErrors[0]?.code ?? 'ok');
    };

    const worker = async (id: number) => {
      const rnd = seededRandom(SEED + id);
      /** This worker's baskets, which its customers sometimes change. */
      const baskets: { id: string; session: (typeof sessions)[number]; customer: string }[] = [];
      for (let n = 0; n < OPS_PER_WORKER; n += 1) {
        const roll = rnd.next();
        if (roll < 0.45) {
          // Now and then a customer changes a basket checked out before (whatever became of it).
          const changed = baskets.length > 0 && rnd.next() < 0.2 ? rnd.pick(baskets) : undefined;
          const session = changed?.session ?? rnd.pick(sessions);
          const customer = changed?.customer ?? `w${id}-${n}`;
          const lines = [...new Set(Array.from({ length: rnd.int(1, 3) }, () => rnd.pick(products)))].map((p) => ({
            offerId: session.offerFor(p),
            quantity: rnd.pick(['0.5', '1', '2', '3.25']),
          }));
          const result: CheckoutResult = changed
            ? (await t.api.data<{ checkout: CheckoutResult }>(op.CHECKOUT, {
                input: { salesSessionId: session.id, customerRef: customer, lines, idempotencyKey: `w${id}-${n}`, replacesCustomerOrderId: changed.id },
              })).checkout
            : await checkout(t.api, session.id, customer, lines);
          expectTyped(result);
          if (changed && result.customerOrder) count('basket change');
          if (result.customerOrder) {
            orders.push(result.customerOrder.id);
            baskets.push({ id: result.customerOrder.id, session, customer });
          }
        } else if (roll < 0.85 && orders.length > 0) {
          const mutation = rnd.pick([op.CONFIRM_PAYMENT, op.CONFIRM_PAYMENT, op.FAIL_PAYMENT, op.CANCEL_CUSTOMER_ORDER]);
          const data = await t.api.data<Record<string, { userErrors: { code: string }[] }>>(mutation, { input: { customerOrderId: rnd.pick(orders) } });
          expectTyped(Object.values(data)[0]!);
        } else if (roll < 0.93) {
          const data = await t.api.data<{ adjustStock: { userErrors: { code: string }[] } }>(op.ADJUST_STOCK, {
            input: { productId: rnd.pick(products), delta: rnd.pick(['5', '-1', '-3', '2.5']) },
          });
          expectTyped(data.adjustStock);
        } else if (roll < 0.95) {
          const data = await t.api.data<{ closeSalesSession: { userErrors: { code: string }[] } }>(op.CLOSE_SALES_SESSION, {
            input: { salesSessionId: rnd.pick(sessions).id },
          });
          expectTyped(data.closeSalesSession);
        } else if (roll < 0.955) {
          // Rarely, a hub takes a whole session back (INVALID_STATE once it is complete).
          const data = await t.api.data<{ cancelSalesSession: { userErrors: { code: string }[] } }>(
            'mutation ($input: CancelSalesSessionInput!) { cancelSalesSession(input: $input) { userErrors { field message code } } }',
            { input: { salesSessionId: rnd.pick(sessions).id } },
          );
          expectTyped(data.cancelSalesSession);
          count('session cancel');
        } else {
          // Time passes: holds lapse and sessions close while the others keep working.
          t.clock.advance({ minutes: rnd.int(1, 25) });
          await t.app.scheduler.runOnce();
          count('tick');
        }
        if (n % 10 === 9) {
          await expectStockConsistent(t.db);
          await expectStatesConsistent(t.db);
          await expectCapsConsistent(t.db);
        }
      }
    };
    await Promise.all(Array.from({ length: WORKERS }, (_, id) => worker(id)));

    // The end of the day: everything closes and completes.
    t.clock.set('2026-11-24T08:00:00+01:00');
    await t.app.scheduler.runOnce();
    await t.app.scheduler.runOnce();
    await expectStockConsistent(t.db);
    await expectStatesConsistent(t.db);
    await expectCapsConsistent(t.db);
    const { rows: unfinished } = await t.db.query('SELECT id FROM sales_session WHERE completed_at IS NULL');
    expect(unfinished).toEqual([]);

    await waitFor('every committed event to be positioned', async () =>
      (await t.db.query('SELECT 1 FROM domain_event WHERE position IS NULL LIMIT 1')).rowCount === 0 ? true : undefined,
    );
    const { rows: committed } = await t.db.query(
      "SELECT position::text AS id, kind, trim_scale(quantity)::text AS quantity FROM domain_event WHERE producer_id = $1 AND kind IN ('HELD', 'RELEASED', 'COMPLETED') ORDER BY position",
      [producers[0]],
    );
    const received = await waitFor(
      'the subscriber to catch up',
      async () => (subscriber.received.length >= committed.length ? subscriber.received : undefined),
    ).catch(() => {
      const seen = new Set(subscriber.received.map((e) => e.id));
      const missing = committed.filter((e) => !seen.has(e.id)).slice(0, 10);
      throw new Error(`subscriber has ${subscriber.received.length} of ${committed.length} events; missing ${JSON.stringify(missing)}; errors ${JSON.stringify(subscriber.errors)}`);
    });
    expect(received.map((e) => ({ id: e.id, kind: e.kind, quantity: e.quantity }))).toEqual(committed);
    expect(subscriber.errors).toEqual([]);
    await subscriber.close();
    expect(outcomes.ok).toBeGreaterThan(10); // the run did real work, not only refusals
    expect(outcomes['basket change']).toBeGreaterThan(0);
  });
});
