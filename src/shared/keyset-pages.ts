import type { EntityDictionary, EntityName } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError, UserErrorCode } from './errors.js';
import { isUuid } from './ids.js';
import { sql, uuidArray } from './sql.js';

/** One page of a list: at most `limit` items, after the item `after` (the last one of the page before). */
export interface Page {
  limit: number;
  after?: string | null;
}

/**
 * A list that belongs to a parent row (a hub's sessions, a producer's products, a product's lots
 * or its ledger), read a page at a time in a fixed order. The order must end with the id, so that
 * it is total and a page never repeats or skips an item.
 */
export interface KeysetList<T> {
  entity: EntityName<T>;
  table: string;
  /** The column naming the parent. */
  parent: string;
  /** The sort key, over a table alias: `(a) => \`${a}.created_at, ${a}.id\``. */
  key: (alias: string) => string;
  /** A cursor that is not one of the parent's items: "no product of this producer". */
  notFound: string;
  /** Newest first (a ledger, a delivery history): pages go on to smaller keys. The key is then one column. */
  descending?: boolean;
  /** Ids that are bigints (a ledger's rows), not UUIDs. */
  bigintIds?: boolean;
  /** The input field naming the cursor, for its error: `after` unless a list says `before`. */
  cursorField?: string;
  /** Rows as the API reads them, over the alias `t` (default: the entity, through the ORM). */
  row?: { select: string; map: (row: Record<string, unknown>) => T };
}

/** A bigint id as text: what a bigint cursor must look like before it reaches SQL. */
const BIGINT_ID = /^[1-9]\d{0,17}$/;

/**
 * Pages of several parents' lists in one statement however many parents a response reaches: each
 * read with its limit, not all then cut, so a parent with years of items costs one page, and the
 * next page starts after the cursor by the sort key (keyset pagination: no OFFSET to scan past).
 * `filter` narrows the items (SQL over the alias `t`, with its parameters), not the cursor: an
 * item the filter now leaves out (a product taken off sale since the page before) still marks
 * where the next page starts. A cursor that is none of the parents' items is an error in place of
 * every page; one parent's reads that parent's next page, and the others' pages are empty. The
 * sort key should not change: an item whose key changes between two pages moves, and the pages
 * after it skip or repeat what it passed.
 */
export async function keysetPages<T extends object>(
  em: EntityManager,
  list: KeysetList<T>,
  parentIds: readonly string[],
  page: Page,
  filter: { sql: string; params: unknown[] } = { sql: 'true', params: [] },
): Promise<Map<string, T[] | DomainError>> {
  const pages = new Map<string, T[] | DomainError>(parentIds.map((id) => [id, []]));
  if (parentIds.length === 0) return pages;
  const idType = list.bigintIds ? 'bigint' : 'uuid';
  let parents = parentIds;
  const after = page.after ?? null;
  if (after !== null) {
    const wellFormed = list.bigintIds ? BIGINT_ID.test(after) : isUuid(after);
    const [cursor] = wellFormed
      ? await sql<{ parent: string }>(em, `SELECT ${list.parent} AS parent FROM ${list.table} WHERE id = ?::${idType}`, [after])
      : [];
    // A cursor of none of these parents: every page is an error.
    if (!cursor || !pages.has(cursor.parent)) {
      for (const id of parentIds) pages.set(id, DomainError.of(UserErrorCode.NOT_FOUND, `no ${list.notFound} with id "${after}"`, [list.cursorField ?? 'after']));
      return pages;
    }
    // One parent's: the others, reached by the same field further down one response (each
    // offer's producer's products, say), have nothing after it. An error there would null the
    // whole answer up the non-null path, the page asked for with it.
    parents = [cursor.parent];
  }
  // Checked even for an empty page: a bad cursor is refused whatever the page size.
  if (page.limit <= 0) return pages;
  const past = list.descending ? '<' : '>';
  const orderBy = (alias: string) => (list.descending ? `${list.key(alias)} DESC` : list.key(alias));
  const rows = await sql<Record<string, unknown>>(
    em,
    `SELECT ${list.row?.select ?? 't.*'} FROM unnest(?::uuid[]) AS parent(id)
       CROSS JOIN LATERAL (
         SELECT * FROM ${list.table} t
          WHERE t.${list.parent} = parent.id AND (${filter.sql})
            AND (?::${idType} IS NULL OR (${list.key('t')}) ${past} (SELECT ${list.key('c')} FROM ${list.table} c WHERE c.id = ?::${idType}))
          ORDER BY ${orderBy('t')}
          LIMIT ?) t
      ORDER BY t.${list.parent}, ${orderBy('t')}`,
    [uuidArray(parents), ...filter.params, after, after, page.limit],
  );
  const parentOf = (row: Record<string, unknown>) => row[list.parent] as string;
  for (const row of rows) {
    const item = list.row ? list.row.map(row) : em.map(list.entity, row as EntityDictionary<T>);
    (pages.get(parentOf(row)) as T[]).push(item);
  }
  return pages;
}
