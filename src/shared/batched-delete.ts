import type { EntityManager } from '@mikro-orm/postgresql';
import { sql } from './sql.js';

const BATCH = 5_000;

/**
 * Deletes the rows of `table` that `select` (a `SELECT <table alias>.ctid FROM …` query) finds, a
 * batch at a time, each statement committing on its own, until one deletes nothing. Retention
 * jobs use it: their first run on a database that kept everything since it began must not be one
 * statement that outlasts statement_timeout every time and never catches up.
 *
 * `ctid = ANY(ARRAY(…))` reads the batch's rows by their addresses (a TID scan), where `ctid IN
 * (…)` joins against the whole table for every batch. A row updated meanwhile has a new address
 * and is skipped, never another deleted in its place; so a short batch does not mean the end,
 * only an empty one does.
 */
export async function deleteInBatches(em: EntityManager, table: string, select: string, params: unknown[]): Promise<number> {
  let total = 0;
  for (;;) {
    const [{ deleted } = { deleted: 0 }] = await sql<{ deleted: number }>(
      em,
      `WITH gone AS (DELETE FROM ${table} WHERE ctid = ANY(ARRAY(${select} LIMIT ?)) RETURNING 1) SELECT count(*)::int AS deleted FROM gone`,
      [...params, BATCH],
    );
    total += deleted;
    if (deleted === 0) return total;
  }
}
