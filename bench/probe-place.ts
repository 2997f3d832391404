// What placing one checkout costs PostgreSQL, one at a time on one connection, for each way of
// writing it: the function (place_customer_order()) against the single statement it replaced
// (d9b2c2a), interleaved in rounds so the machine's drift falls on both.
// `npx tsx bench/probe-place.ts`
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { startBenchEnvironment } from './environment.js';
import { catalogue } from './scenarios.js';

const env = await startBenchEnvironment({ poolSize: 4, workers: 1 });
const { session } = await catalogue(env, 1, '100000000');
const offer = session.offers[0]!;
await env.gql('mutation ($input: CheckoutInput!) { checkout(input: $input) { customerOrder { id } } }', {
  input: { salesSessionId: session.id, customerRef: 'first', idempotencyKey: randomUUID(), lines: [{ offerId: offer.id, quantity: '1' }] },
});
const { rows: [ids] } = await env.db.query(
  `SELECT s.hub_id AS "hubId", f.product_id AS "productId", p.producer_id AS "producerId", po.id AS "producerOrderId", l.location_id AS "locationId"
     FROM offer f JOIN sales_session s ON s.id = f.sales_session_id JOIN product p ON p.id = f.product_id
     JOIN producer_order po ON po.sales_session_id = s.id AND po.producer_id = p.producer_id JOIN stock_level l ON l.product_id = p.id
    WHERE f.id = $1`,
  [offer.id],
);
const client = new pg.Client({ connectionString: env.databaseUrl, options: '-c plan_cache_mode=force_generic_plan' });
await client.connect();

const OLD = `WITH open_session AS (
   SELECT id FROM sales_session WHERE id = $1 AND completed_at IS NULL AND closed_at IS NULL AND opens_at <= $2 AND closes_at > $3 FOR KEY SHARE),
 placed AS (
   INSERT INTO customer_order (id, created_at, updated_at, sales_session_id, hub_id, customer_ref, status, hold_expires_at, idempotency_key, request_hash)
   SELECT $4, $5, $6, open_session.id, $7, $8, $9, $10, $11, $12 FROM open_session
   ON CONFLICT (hub_id, idempotency_key) DO NOTHING RETURNING *),
 lines AS (
   INSERT INTO customer_order_line (id, created_at, customer_order_id, offer_id, product_id, producer_order_id, quantity, unit_price_amount, currency)
   SELECT gen_random_uuid(), $13, placed.id, l.offer_id, l.product_id, po.id, l.quantity, l.price_amount, l.currency
     FROM placed CROSS JOIN jsonb_to_recordset($14::jsonb) AS l(offer_id uuid, product_id uuid, producer_id uuid, quantity numeric, price_amount int, currency text)
     JOIN producer_order po ON po.sales_session_id = $15 AND po.producer_id = l.producer_id
   RETURNING offer_id, producer_order_id),
 hold_moves AS (
   SELECT m.* FROM jsonb_to_recordset($16::jsonb) AS m(product_id uuid, location_id uuid, held_delta numeric, customer_order_id uuid, producer_order_id uuid)
    WHERE EXISTS (SELECT 1 FROM placed)),
 hold_ledger AS (
   INSERT INTO stock_movement (product_id, location_id, kind, held_delta, customer_order_id, producer_order_id, created_at, applied_at_commit)
   SELECT product_id, location_id, $17, held_delta, customer_order_id, producer_order_id, $18, true FROM hold_moves ORDER BY product_id, location_id)
 SELECT (SELECT row_to_json(placed) FROM placed) AS "order",
        (SELECT coalesce(json_agg(json_build_object('offerId', offer_id, 'producerOrderId', producer_order_id)), '[]') FROM lines) AS lines`;

function basket() {
  const id = randomUUID();
  const key = randomUUID();
  const now = new Date();
  const lines = [{ offer_id: offer.id, product_id: ids.productId, producer_id: ids.producerId, quantity: '1', price_amount: 100, currency: 'EUR' }];
  // The replaced statement needs the two ids; place_customer_order() ignores them and finds them itself.
  const holds = [{ product_id: ids.productId, location_id: ids.locationId, held_delta: '1', customer_order_id: id, producer_order_id: ids.producerOrderId }];
  return { id, key, now, lines, holds };
}

const ways: Record<string, () => Promise<unknown>> = {
  'function place_customer_order()': () => {
    const b = basket();
    return client.query({ name: 'fn', text: 'SELECT place_customer_order($1::jsonb) AS placement', values: [JSON.stringify({
      id: b.id, salesSessionId: session.id, hubId: ids.hubId, customerRef: 'probe', idempotencyKey: b.key, requestHash: 'h',
      at: b.now.toISOString(), holdExpiresAt: new Date(b.now.getTime() + 900_000).toISOString(), lines: b.lines, holds: b.holds,
    })] });
  },
  'single statement (d9b2c2a)': () => {
    const b = basket();
    const later = new Date(b.now.getTime() + 900_000);
    return client.query({ name: 'old', text: OLD, values: [session.id, b.now, b.now, b.id, b.now, b.now, ids.hubId, 'probe', 'PENDING_PAYMENT', later, b.key, 'h',
      b.now, JSON.stringify(b.lines), session.id, JSON.stringify(b.holds), 'HOLD', b.now] });
  },
};
const totals: Record<string, number> = {};
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const PER_ROUND = 500;
for (let round = 0; round < ROUNDS; round += 1) {
  for (const [name, place] of Object.entries(ways)) {
    const started = performance.now();
    for (let i = 0; i < PER_ROUND; i += 1) await place();
    if (round > 0) totals[name] = (totals[name] ?? 0) + (performance.now() - started); // the first round warms up
  }
}
for (const [name, ms] of Object.entries(totals)) console.log(`${name}: ${(ms / ((ROUNDS - 1) * PER_ROUND)).toFixed(3)} ms a checkout`);
await client.end();
await env.stop();
