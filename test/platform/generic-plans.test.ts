import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparedStatementTexts } from '../../src/shared/sql.js';
import * as op from '../support/operations.js';
import { checkout, orderMutation } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';

/** Tables with rows for every order: a statement that scans one gets slower with every sale. */
const GROWING = ['customer_order', 'customer_order_line', 'stock_movement', 'domain_event'];

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

function* nodesOf(node: PlanNode): Generator<PlanNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* nodesOf(child);
}

/*
 * The server prepares its checkout and payment statements once per connection and plans them
 * generically (plan_cache_mode=force_generic_plan), often while the tables are nearly empty, and
 * keeps a plan for up to PLAN_MAX_AGE_MS as the tables grow. One that scans a table that grows
 * with the orders, or walks an index without an equality on its first column, costs more with
 * every sale. (The payment's UPDATE once joined its target to every pending order through the
 * (session, status) index, or a sequential scan, this way.)
 */
describe('prepared statements, planned while the database is small', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it('reach the rows of the tables that grow with orders by key', async () => {
    const w = await openSessionWorld(t.api);
    for (const customer of ['ali', 'bea']) {
      const placed = await checkout(t.api, w.session.id, customer, [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
      expect(placed.userErrors).toEqual([]);
      expect((await orderMutation(t.api, op.CONFIRM_PAYMENT, placed.customerOrder!.id)).userErrors).toEqual([]);
    }
    const texts = preparedStatementTexts();
    expect(texts.some((text) => text.includes('UPDATE customer_order'))).toBe(true);

    // A partial index (the unpositioned events, say) holds a few rows by design: walking it is fine.
    const { rows: indexes } = await t.db.query<{ index: string; leading: string }>(
      `SELECT i.relname AS index, a.attname AS leading
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class r ON r.oid = x.indrelid
         JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = x.indkey[0]
        WHERE r.relname = ANY($1) AND x.indpred IS NULL`,
      [GROWING],
    );
    const leadingColumn = new Map(indexes.map((i) => [i.index, i.leading]));
    // An equality (or = ANY) on the index's first column: a range on it would still walk every order.
    const keyedOn = (cond: string, column: string) => new RegExp(`\\b${column} = `).test(cond);
    const unkeyed: string[] = [];
    for (const text of texts) {
      const { rows } = await t.db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${text}`);
      for (const node of nodesOf(rows[0]!['QUERY PLAN'][0].Plan)) {
        const scanned = node['Node Type'] === 'Seq Scan' && GROWING.includes(node['Relation Name']!);
        const leading = node['Index Name'] && leadingColumn.get(node['Index Name']);
        const walked = leading !== undefined && !keyedOn(node['Index Cond'] ?? '', leading);
        if (scanned || walked) unkeyed.push(`${node['Node Type']} ${node['Relation Name'] ?? node['Index Name']} (${node['Index Cond'] ?? 'no index condition'}) in: ${text.slice(0, 120)}`);
      }
    }
    expect(unkeyed).toEqual([]);
  });
});
