import type pg from 'pg';
import { expect } from 'vitest';

/**
 * The stock rules that must hold at every commit: no level below zero, and every level equal to
 * the sum of its ledger. Checked with SQL, independently of the code under test.
 */
export async function expectStockConsistent(db: pg.Pool): Promise<void> {
  const { rows: negative } = await db.query(
    'SELECT product_id FROM stock_level WHERE on_hand - held - committed < 0 OR held < 0 OR committed < 0',
  );
  expect(negative).toEqual([]);
  const { rows: drift } = await db.query(`
    SELECT s.product_id, s.on_hand, s.held, s.committed, m.on_hand AS ledger_on_hand, m.held AS ledger_held, m.committed AS ledger_committed
      FROM stock_level s
      LEFT JOIN (SELECT product_id, sum(on_hand_delta) AS on_hand, sum(held_delta) AS held, sum(committed_delta) AS committed
                   FROM stock_movement GROUP BY product_id) m ON m.product_id = s.product_id
     WHERE s.on_hand <> coalesce(m.on_hand, 0) OR s.held <> coalesce(m.held, 0) OR s.committed <> coalesce(m.committed, 0)`);
  expect(drift).toEqual([]);
  // Held stock equals what the live (unpaid or paid, not yet completed) customer lines ask for.
  const { rows: heldDrift } = await db.query(`
    SELECT s.product_id FROM stock_level s
      LEFT JOIN (SELECT l.product_id, sum(l.quantity) AS quantity
                   FROM customer_order_line l
                   JOIN customer_order o ON o.id = l.customer_order_id
                   JOIN sales_session ss ON ss.id = o.sales_session_id
                  WHERE o.status IN ('PENDING_PAYMENT', 'CONFIRMED') AND ss.completed_at IS NULL
                  GROUP BY l.product_id) h ON h.product_id = s.product_id
     WHERE s.held <> coalesce(h.quantity, 0)`);
  expect(heldDrift).toEqual([]);
}
