import type pg from 'pg';
import { checkout } from './scenarios.js';
import type { TestApp } from './test-app.js';
import { waitForLockWait } from './wait.js';

/** Rows locked FOR UPDATE from a connection of the test's (as a close, a completion or a transfer would) until release(). */
export async function lockedElsewhere(db: pg.Pool, query: string, params: unknown[]) {
  const client = await db.connect();
  let open = true;
  const release = async () => {
    if (!open) return;
    open = false;
    try {
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  };
  await client.query('BEGIN');
  await client.query(query, params).catch(async (error: unknown) => {
    await release();
    throw error;
  });
  return { release };
}

/** Every stock level of `product`, locked elsewhere until release(). */
export const levelsLockedElsewhere = (db: pg.Pool, product: string) =>
  lockedElsewhere(db, 'SELECT 1 FROM stock_level WHERE product_id = $1 FOR UPDATE', [product]);

/**
 * A first checkout of 1 `product` through the API, held at its COMMIT by its levels locked
 * elsewhere; `buy` sends more, which queue behind it for the next batch until levels.release().
 */
export async function checkoutsBehindLockedLevels(t: TestApp, session: { id: string; offerFor(product: string): string }, product: string) {
  const levels = await levelsLockedElsewhere(t.db, product);
  const buy = (customer: string) => checkout(t.api, session.id, customer, [{ offerId: session.offerFor(product), quantity: '1' }]);
  const first = buy('first in line');
  await waitForLockWait(t.db, 'the first checkout to wait for the levels');
  return { levels, first, buy };
}
