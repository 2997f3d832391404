// A checkout's hold is applied by a deferred constraint trigger at COMMIT, and PostgreSQL disarms
// statement_timeout before it commits (postgres.c finish_xact_command()). Without a bound of its
// own (Migration20261125160000), the trigger's wait for the product's stock levels had none:
// - the first checkout of a producer in a session (a transaction that defers its hold to COMMIT)
//   hung for as long as another transaction kept the product's levels, holding a pool connection;
// - a batched checkout placed alone (autocommit, hold applied at its COMMIT) was given up by the
//   batcher, which then sent the next checkout of the product on another connection, stuck the
//   same way, until the pool was exhausted and every request of every hub failed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { levelsLockedElsewhere } from '../support/locked-elsewhere.js';
import { checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';
import { waitFor, waitForLockWait } from '../support/wait.js';

const OPEN = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00' };

/**
 * Connections of this test's database whose statement (`query`, a LIKE pattern) has waited for a
 * lock for longer than `seconds`. An autocommit statement's deferred triggers run at its implicit
 * COMMIT, still shown as that statement.
 */
async function waitingLongerThan(t: TestApp, query: string, seconds: number): Promise<number> {
  const { rows } = await t.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE $1
        AND now() - query_start > make_interval(secs => $2)`,
    [query, seconds],
  );
  return rows[0]!.n;
}

describe('the wait for stock levels at COMMIT and DATABASE_STATEMENT_TIMEOUT', () => {
  describe('a producer\'s first checkout in a session (hold deferred to its transaction\'s COMMIT)', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ env: { DATABASE_STATEMENT_TIMEOUT: 'PT1S', LOG_LEVEL: 'error' } });
    });
    afterAll(() => t.stop());

    it('is cut off by the statement timeout rather than waiting for the levels for ever, and holds nothing', async () => {
      const w = await openSessionWorld(t.api, { carrots: '10' });
      const levels = await levelsLockedElsewhere(t.db, w.carrots);
      const pending = checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
      try {
        await waitForLockWait(t.db, 'the checkout to wait for the levels');
        // Either the request answers (the statement timeout cut it off, as it does any statement
        // of a request), or its COMMIT is still waiting for the levels five times the timeout later.
        const outcome = await Promise.race([
          pending.then(() => 'answered', (error: Error) => (error.message.includes('"code":"SERVICE_UNAVAILABLE","retryable":true') ? 'answered' : error.message)),
          waitFor('a COMMIT waiting 5 s', async () => ((await waitingLongerThan(t, 'commit%', 5)) > 0 ? 'still waiting in COMMIT' : undefined)),
        ]);
        expect(outcome).toBe('answered');
      } finally {
        await levels.release();
        await pending.catch(() => undefined);
      }
      // Cut off while the levels were held elsewhere: nothing of it may stand.
      const { rows } = await t.db.query("SELECT status FROM customer_order WHERE customer_ref = 'ali'");
      expect(rows).toEqual([]);
    });
  });

  describe('batched checkouts of a product whose levels another transaction keeps', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startTestApp({ env: { DATABASE_POOL_SIZE: '3', DATABASE_STATEMENT_TIMEOUT: 'PT1S', DATABASE_ACQUIRE_TIMEOUT: 'PT1S', LOG_LEVEL: 'error' } });
    });
    afterAll(() => t.stop());

    it('never hold up another hub\'s checkout of another product', async () => {
      const w = await openSessionWorld(t.api, { carrots: '10' });
      const offerId = w.session.offerFor(w.carrots);
      // The producer's order exists: the next checkouts of carrots go through the batcher.
      expect((await checkout(t.api, w.session.id, 'first', [{ offerId, quantity: '1' }])).userErrors).toEqual([]);
      // Elsewhere, an unrelated hub sells an unrelated producer's apples.
      const orchard = await createProducer(t.api, 'Orchard');
      const apples = await createProduct(t.api, orchard, { name: 'Apples', onHand: '10' });
      const other = await createSession(t.api, await createHub(t.api, 'Hub Z'), { ...OPEN, products: [apples] });

      const levels = await levelsLockedElsewhere(t.db, w.carrots);
      try {
        // Three customers, one after the other, try to buy carrots while their levels are held.
        // Each is refused (the batcher gives up on it: SERVICE_UNAVAILABLE); nothing more is asked.
        for (const customer of ['c1', 'c2', 'c3']) {
          const response = await t.api.request<{ checkout: { customerOrder: unknown } | null }>(op.CHECKOUT, {
            input: { salesSessionId: w.session.id, customerRef: customer, idempotencyKey: customer, lines: [{ offerId, quantity: '1' }] },
          });
          expect(response.data?.checkout?.customerOrder ?? null).toBeNull();
        }
        // Connections still waiting for the carrots' levels, longer than the statement timeout:
        // each statement given up on by the batcher is in fact still running (at its COMMIT).
        const stuck = await waitingLongerThan(t, '%place_customer_order%', 1);

        // A customer of another hub buys another producer's product: nothing of carrots is involved.
        const response = await t.api.request<{ checkout: { customerOrder: { status: string } | null } }>(op.CHECKOUT, {
          input: { salesSessionId: other.id, customerRef: 'zoe', idempotencyKey: 'zoe', lines: [{ offerId: other.offerFor(apples), quantity: '1' }] },
        });
        expect({ stuck, otherHub: response.data?.checkout.customerOrder?.status ?? response.errors?.[0]?.extensions?.code }).toEqual({
          stuck: 0,
          otherHub: 'PENDING_PAYMENT',
        });
      } finally {
        await levels.release();
      }
    });
  });
});
