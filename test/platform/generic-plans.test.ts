import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as op from '../support/operations.js';
import { checkout, orderMutation } from '../support/scenarios.js';
import type { TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';
import { basketsFor } from '../support/baskets.js';

// The server and its registry of prepared statements loaded afresh: test files share their
// worker's modules (vitest.config.ts), and another file's statements (a probe table of its own)
// are not the server's to explain here.
vi.resetModules();
const { preparedStatementTexts } = await import('../../src/shared/sql.js');
const { startTestApp } = await import('../support/test-app.js');

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
describe('prepared statements and functions, planned while the database is small', () => {
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

    const unkeyed: string[] = [];
    for (const text of texts) {
      const { rows } = await t.db.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (GENERIC_PLAN, FORMAT JSON) ${text}`);
      unkeyed.push(...unkeyedReads(rows[0]!['QUERY PLAN'][0].Plan, text, await leadingColumns()));
    }
    expect(unkeyed).toEqual([]);
  });

  it('and so do the statements of the functions that place checkouts, alone and in batches', async () => {
    const w = await openSessionWorld(t.api);
    const offer = w.session.offerFor(w.eggs);
    expect((await checkout(t.api, w.session.id, 'cem', [{ offerId: offer, quantity: '1' }])).userErrors).toEqual([]);
    const basket = await basketsFor(t.db, w.session.id, offer);

    // auto_explain sends the plan of every statement the functions run to this client, as a notice.
    const connection = await t.db.connect();
    const plans: { 'Query Text': string; Plan: PlanNode }[] = [];
    const onNotice = (notice: { message?: string }) => {
      const json = notice.message?.match(/plan:\s*(\{[\s\S]*\})\s*$/)?.[1];
      if (json) plans.push(JSON.parse(json));
    };
    connection.on('notice', onNotice);
    try {
      for (const setting of ["LOAD 'auto_explain'", 'SET auto_explain.log_min_duration = 0', 'SET auto_explain.log_nested_statements = on',
        "SET auto_explain.log_format = 'json'", "SET auto_explain.log_level = 'notice'", 'SET plan_cache_mode = force_generic_plan']) {
        await connection.query(setting);
      }
      await connection.query('SELECT place_customer_order($1::jsonb)', [JSON.stringify(basket('alone', 1))]);
      await connection.query('SELECT place_customer_orders($1::jsonb)', [JSON.stringify([basket('one', 1), basket('two', 1)])]);
    } finally {
      connection.off('notice', onNotice);
      connection.release(true);
    }

    const inserts = plans.filter((p) => p['Query Text'].includes('insert into customer_order '));
    expect(inserts.length).toBeGreaterThanOrEqual(3);
    // The hold trigger's statements too, fired inside the functions.
    expect(plans.some((p) => p['Query Text'].includes('update stock_level'))).toBe(true);
    expect(plans.some((p) => p['Query Text'].includes('insert into domain_event'))).toBe(true);
    const columns = await leadingColumns();
    expect(plans.flatMap((p) => unkeyedReads(p.Plan, p['Query Text'], columns))).toEqual([]);
  });

  /** The first column of each non-partial index of the growing tables (a partial index, of the unpositioned events say, holds a few rows by design). */
  async function leadingColumns(): Promise<Map<string, string>> {
    const { rows } = await t.db.query<{ index: string; leading: string }>(
      `SELECT i.relname AS index, a.attname AS leading
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class r ON r.oid = x.indrelid
         JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum = x.indkey[0]
        WHERE r.relname = ANY($1) AND x.indpred IS NULL`,
      [GROWING],
    );
    return new Map(rows.map((i) => [i.index, i.leading]));
  }
});

/**
 * The plan's reads of a growing table that are not by key: a sequential scan, or an index walked
 * without an equality (or = ANY) on its first column (a range on it would still walk every order).
 */
function unkeyedReads(plan: PlanNode, text: string, leadingColumn: ReadonlyMap<string, string>): string[] {
  const keyedOn = (cond: string, column: string) => new RegExp(`\\b${column} = `).test(cond);
  const unkeyed: string[] = [];
  for (const node of nodesOf(plan)) {
    const scanned = node['Node Type'] === 'Seq Scan' && GROWING.includes(node['Relation Name']!);
    const leading = node['Index Name'] && leadingColumn.get(node['Index Name']);
    const walked = leading !== undefined && !keyedOn(node['Index Cond'] ?? '', leading);
    if (scanned || walked) unkeyed.push(`${node['Node Type']} ${node['Relation Name'] ?? node['Index Name']} (${node['Index Cond'] ?? 'no index condition'}) in: ${text.slice(0, 120)}`);
  }
  return unkeyed;
}
