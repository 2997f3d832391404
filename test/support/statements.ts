import { randomUUID } from 'node:crypto';
import pg from 'pg';

/**
 * Counts the statements the server sends PostgreSQL while `run` goes (the server runs in this
 * process). Background work (the event sequencer after earlier writes) can only add to a count,
 * so the least of a few runs is the request's own. Each run gets a `nonce` of its own to send as
 * an (unused) variable: identical queries share answers (src/graphql/shared-reads.ts), and the
 * count of a shared answer is not the count of the read.
 */
export async function statementsFor(run: (nonce: string) => Promise<unknown>): Promise<number> {
  const counts = [];
  for (let i = 0; i < 3; i += 1) counts.push(await statementsDuring(() => run(randomUUID())));
  return Math.min(...counts);
}

async function statementsDuring(run: () => Promise<unknown>): Promise<number> {
  const statements = countStatements();
  try {
    await run();
  } finally {
    statements.stop();
  }
  return statements.count();
}

/** Counts the statements the server (in this process) sends PostgreSQL, those containing `text` if given, until stop(). */
export function countStatements(text?: string): { count(): number; stop(): void } {
  const query = pg.Client.prototype.query;
  let count = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    // A string, or a config object (prepared statements).
    const sent = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text;
    if (text === undefined || sent?.includes(text)) count += 1;
    return (query as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof query;
  return { count: () => count, stop: () => (pg.Client.prototype.query = query) };
}

/**
 * The rows PostgreSQL returned to the server (in this process) for its SELECTs while `run` went:
 * what a request read, to tell a page read with its limit from a whole list read and then cut.
 */
export async function rowsReadDuring(run: () => Promise<unknown>): Promise<number> {
  const query = pg.Client.prototype.query;
  let rows = 0;
  const counted = (result: pg.QueryResult | undefined) => {
    if (result?.command === 'SELECT') rows += result.rowCount ?? 0;
  };
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    // knex passes a callback; prepared statements (preparedSql()) take the promise.
    const callback = args.at(-1);
    if (typeof callback === 'function') {
      args[args.length - 1] = (error: unknown, result: pg.QueryResult) => {
        counted(result);
        return callback(error, result);
      };
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    }
    const result = (query as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise) void result.then(counted, () => undefined);
    return result;
  } as typeof query;
  try {
    await run();
  } finally {
    pg.Client.prototype.query = query;
  }
  return rows;
}
