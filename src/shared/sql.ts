import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import type { EntityManager, Knex } from '@mikro-orm/postgresql';
import type pg from 'pg';
import { isUuid } from './ids.js';

/**
 * Runs SQL on the entity manager's connection, inside its transaction when it has one.
 * Placeholders are `?` (knex); pass lists with uuidArray() or as JSON, never as JS arrays
 * (knex would expand them into separate parameters).
 */
export function sql<T = Record<string, unknown>>(em: EntityManager, query: string, params: unknown[] = []): Promise<T[]> {
  return em.execute<T[]>(query, params as never[], 'all');
}

/**
 * sql() as a named prepared statement: PostgreSQL parses and plans it once per connection instead
 * of on every call. For the statements every checkout and payment runs, whose planning cost the
 * database as much as running them (bench/RESULTS.md). The text must not change from call to call
 * beyond a few variants (the name is its hash, and each connection keeps every name it has seen),
 * and it must name its output columns: a `SELECT *` would fail once a migration adds a column.
 * It goes to the connection directly, inside the entity manager's transaction when it has one,
 * so MikroORM's query log does not show it.
 */
export async function preparedSql<T = Record<string, unknown>>(em: EntityManager, query: string, params: unknown[] = []): Promise<T[]> {
  const transaction = em.getTransactionContext<Knex.Transaction>();
  // knex refuses a finished transaction's queries; going to its connection directly would not,
  // and that connection may by now be serving someone else.
  if (transaction?.isCompleted()) throw new Error('the transaction of this entity manager has already ended');
  const knex = (transaction ?? em.getConnection().getKnex()) as Knex;
  const client = knex.client as { acquireConnection(): Promise<pg.Client>; releaseConnection(c: pg.Client): Promise<unknown>; positionBindings(q: string): string };
  const statement = statementOf(query, client);
  const connection = await client.acquireConnection();
  try {
    if (!transaction) await replanIfDue(connection);
    const result = await connection.query<T & pg.QueryResultRow>({ name: statement.name, text: statement.text, values: params });
    return result.rows;
  } finally {
    await client.releaseConnection(connection);
  }
}

const statements = new Map<string, { name: string; text: string }>();

/**
 * How long a connection keeps its plans. Connections plan generically
 * (plan_cache_mode=force_generic_plan, src/db/orm.ts), once each for the prepared statements and
 * for the statements of the triggers and functions they run, with the table sizes of that moment.
 * PostgreSQL plans again only when autovacuum analyzes a table, which may be a minute or more
 * after a flash sale has grown it from a few rows (a new deployment, or events pruned overnight)
 * to thousands: a plan that scans the few rows would scan the thousands. Plans older than this are
 * dropped (DISCARD PLANS; the statements stay prepared) and remade on their next use, for the
 * sizes then: a millisecond or so of planning per connection.
 */
export const PLAN_MAX_AGE_MS = 10_000;

/** When each connection's plans were last dropped, or the connection first used here. */
const plannedAt = new WeakMap<pg.Client, number>();

/** Outside a transaction only: the connection then serves nobody else, and has no open portal. */
async function replanIfDue(connection: pg.Client): Promise<void> {
  const now = performance.now();
  const since = plannedAt.get(connection);
  if (since !== undefined && now - since < PLAN_MAX_AGE_MS) return;
  plannedAt.set(connection, now);
  if (since !== undefined) await connection.query('DISCARD PLANS');
}

/**
 * The text of every statement preparedSql() has prepared in this process, as PostgreSQL got it.
 * Each is planned once per connection, often while the tables are still small: tests check
 * those plans (test/platform/generic-plans.test.ts).
 */
export function preparedStatementTexts(): string[] {
  return [...statements.values()].map((statement) => statement.text);
}

function statementOf(query: string, client: { positionBindings(q: string): string }) {
  let statement = statements.get(query);
  if (!statement) {
    // `?` placeholders become PostgreSQL's $1, $2... as knex would number them.
    const text = client.positionBindings(query);
    statement = { name: `foodhub_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text };
    statements.set(query, statement);
  }
  return statement;
}

/** A PostgreSQL array literal of UUIDs, for `?::uuid[]`. Only valid UUIDs reach it, so nothing needs quoting. */
export function uuidArray(ids: Iterable<string>): string {
  const list = [...ids];
  for (const id of list) if (!isUuid(id)) throw new Error(`not a UUID: ${id}`);
  return `{${list.join(',')}}`;
}

/**
 * A timestamptz read with sql(): MikroORM has the pg driver return timestamps as text (to avoid
 * the driver's own time-zone handling), so raw rows carry strings like "2026-11-27 17:00:00+00".
 */
export function instant(value: Date | string): Date;
export function instant(value: Date | string | null): Date | null;
export function instant(value: Date | string | null): Date | null {
  if (value === null || value instanceof Date) return value;
  const parsed = DateTime.fromSQL(value, { setZone: true });
  if (!parsed.isValid) throw new Error(`unreadable timestamp from PostgreSQL: ${value}`);
  return parsed.toJSDate();
}

/**
 * Runs independent reads side by side, each on a connection of its own; in a transaction, whose
 * one connection would run them one after another anyway, one after another (pg deprecates
 * queueing queries on a busy client, and pg 9 refuses it).
 */
export async function concurrently<T extends readonly unknown[]>(em: EntityManager, reads: { [K in keyof T]: () => Promise<T[K]> }): Promise<T> {
  if (!em.isInTransaction()) return (await Promise.all(reads.map((read) => read()))) as unknown as T;
  const results: unknown[] = [];
  for (const read of reads) results.push(await read());
  return results as unknown as T;
}

/** SQLSTATE: lock_timeout ran out (or NOWAIT found the row locked). */
export const LOCK_NOT_AVAILABLE = '55P03';
/** SQLSTATE: this transaction was chosen to end a deadlock, and rolled back. */
export const DEADLOCK_DETECTED = '40P01';
