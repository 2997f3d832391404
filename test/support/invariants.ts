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
    SELECT s.product_id, s.location_id, s.on_hand, s.held, s.committed,
           m.on_hand AS ledger_on_hand, m.held AS ledger_held, m.committed AS ledger_committed
      FROM stock_level s
      LEFT JOIN (SELECT product_id, location_id, sum(on_hand_delta) AS on_hand, sum(held_delta) AS held, sum(committed_delta) AS committed
                   FROM stock_movement GROUP BY product_id, location_id) m
             ON m.product_id = s.product_id AND m.location_id = s.location_id
     WHERE s.on_hand <> coalesce(m.on_hand, 0) OR s.held <> coalesce(m.held, 0) OR s.committed <> coalesce(m.committed, 0)`);
  expect(drift).toEqual([]);
  // Held stock equals what the live (unpaid or paid, not yet completed) customer lines ask for.
  const { rows: heldDrift } = await db.query(`
    SELECT s.product_id FROM (SELECT product_id, sum(held) AS held FROM stock_level GROUP BY product_id) s
      LEFT JOIN (SELECT l.product_id, sum(l.quantity) AS quantity
                   FROM customer_order_line l
                   JOIN customer_order o ON o.id = l.customer_order_id
                   JOIN sales_session ss ON ss.id = o.sales_session_id
                  WHERE o.status IN ('PENDING_PAYMENT', 'CONFIRMED') AND ss.completed_at IS NULL
                  GROUP BY l.product_id) h ON h.product_id = s.product_id
     WHERE s.held <> coalesce(h.quantity, 0)`);
  expect(heldDrift).toEqual([]);
}

/**
 * Every rule about states, checked with SQL at one snapshot each: nothing in an impossible state,
 * each session completed at most once, each hold released at most once, and one event for each
 * committed stock movement. A shipment moves other orders' commitments to where it frees stock
 * (commitments-follow-goods.ts), as pairs of COMMIT rows with a reason: "committed once" counts
 * the session's commit (no reason), and each order's moved commitments must add up to zero.
 */
export async function expectStatesConsistent(db: pg.Pool): Promise<void> {
  const problems = await db.query(`
    SELECT 'pending order without expiry' AS problem, id::text FROM customer_order WHERE status = 'PENDING_PAYMENT' AND hold_expires_at IS NULL
    UNION ALL SELECT 'settled order with an expiry', id::text FROM customer_order WHERE status <> 'PENDING_PAYMENT' AND hold_expires_at IS NOT NULL
    UNION ALL SELECT 'completed session with a pending order', s.id::text FROM sales_session s
      WHERE s.completed_at IS NOT NULL AND EXISTS (SELECT 1 FROM customer_order o WHERE o.sales_session_id = s.id AND o.status = 'PENDING_PAYMENT')
    UNION ALL SELECT 'open producer order in a completed session', p.id::text FROM producer_order p JOIN sales_session s ON s.id = p.sales_session_id
      WHERE s.completed_at IS NOT NULL AND p.order_state = 'HELD'
    UNION ALL SELECT 'settled producer order in an uncompleted session', p.id::text FROM producer_order p JOIN sales_session s ON s.id = p.sales_session_id
      WHERE s.completed_at IS NULL AND p.order_state <> 'HELD'
    UNION ALL SELECT 'complete producer order without lines', p.id::text FROM producer_order p
      WHERE p.order_state = 'COMPLETE' AND NOT EXISTS (SELECT 1 FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
                                                        WHERE l.producer_order_id = p.id AND o.status = 'CONFIRMED')
    UNION ALL SELECT 'cancelled producer order with lines', p.id::text FROM producer_order p
      WHERE p.order_state = 'CANCELLED' AND EXISTS (SELECT 1 FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
                                                     WHERE l.producer_order_id = p.id AND o.status = 'CONFIRMED')
    UNION ALL SELECT 'shipped or moved commitment of an order not complete', p.id::text FROM producer_order p
      WHERE p.order_state <> 'COMPLETE' AND EXISTS (SELECT 1 FROM stock_movement m WHERE m.producer_order_id = p.id AND (m.kind = 'SHIP' OR m.kind = 'COMMIT' AND m.reason IS NOT NULL))
    UNION ALL SELECT 'committed twice', producer_order_id::text FROM stock_movement WHERE kind = 'COMMIT' AND reason IS NULL
      GROUP BY producer_order_id, product_id, location_id HAVING count(*) > 1
    UNION ALL SELECT 'moved commitments do not add up to zero', producer_order_id::text FROM stock_movement WHERE kind = 'COMMIT' AND reason IS NOT NULL
      GROUP BY producer_order_id, product_id HAVING sum(committed_delta) <> 0
    UNION ALL SELECT 'released twice', customer_order_id::text FROM stock_movement WHERE kind = 'RELEASE'
      GROUP BY customer_order_id, product_id, location_id HAVING count(*) > 1
    UNION ALL SELECT 'events differ from movements for ' || m.kind, m.kind FROM (
      SELECT kind, sum(CASE kind WHEN 'HOLD' THEN held_delta WHEN 'RELEASE' THEN -held_delta
                                 WHEN 'COMMIT' THEN committed_delta ELSE on_hand_delta END) AS quantity
        FROM stock_movement WHERE kind IN ('HOLD', 'RELEASE', 'COMMIT', 'ADJUST') GROUP BY kind) m
      WHERE m.quantity <> (SELECT coalesce(sum(e.quantity), 0) FROM domain_event e
                            WHERE e.kind = CASE m.kind WHEN 'HOLD' THEN 'HELD' WHEN 'RELEASE' THEN 'RELEASED'
                                                       WHEN 'COMMIT' THEN 'COMPLETED' ELSE 'ADJUSTED' END)`);
  expect(problems.rows).toEqual([]);
}

/** Every capped offer's `taken` is what its live orders' lines hold, and never past its cap. Checked with SQL. */
export async function expectCapsConsistent(db: pg.Pool): Promise<void> {
  const { rows } = await db.query(`
    SELECT f.id, f.cap, f.taken, coalesce(l.quantity, 0) AS held
      FROM offer f
      LEFT JOIN (SELECT l.offer_id, sum(l.quantity) AS quantity
                   FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
                  WHERE o.status IN ('PENDING_PAYMENT', 'CONFIRMED') GROUP BY l.offer_id) l ON l.offer_id = f.id
     WHERE f.cap IS NOT NULL AND (f.taken <> coalesce(l.quantity, 0) OR f.taken > f.cap)`);
  expect(rows).toEqual([]);
}
