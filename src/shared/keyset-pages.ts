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
 * A list that belongs to a parent row (a hub's sessions, a producer's products, a product's lots),
 * read a page at a time in a fixed order. The order must end with the id, so that it is total and a
 * page never repeats or skips an item.
 */
export interface KeysetList<T> {
  entity: EntityName<T>;
  table: string;
  /** The column naming the parent. */
  parent: string;
  /** The sort key, over a table alias: `(a) => \`${a}.name, ${a}.id\``. */
  key: (alias: string) => string;
  /** A cursor that is not one of the parent's items: "no product of this producer". */
  notFound: string;
}

/**
 * Pages of several parents' lists in one statement however many parents a response reaches: each
 * read with its limit, not all then cut, so a parent with years of items costs one page, and the
 * next page starts after the cursor by the sort key (keyset pagination: no OFFSET to scan past).
 * `filter` narrows the items (SQL over the alias `t`, with its parameters). A parent whose page
 * cannot be read (a cursor that is not one of its items) gets its error in place of its page.
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
  let parents = parentIds;
  const after = page.after ?? null;
  if (after !== null) {
    const [cursor] = isUuid(after)
      ? await sql<{ parent: string }>(em, `SELECT ${list.parent} AS parent FROM ${list.table} WHERE id = ?`, [after])
      : [];
    for (const id of parentIds) {
      if (cursor?.parent !== id) pages.set(id, DomainError.of(UserErrorCode.NOT_FOUND, `no ${list.notFound} with id "${after}"`, ['after']));
    }
    // A cursor of none of these parents: every page is an error.
    if (!cursor || !pages.has(cursor.parent)) return pages;
    parents = [cursor.parent];
  }
  // Checked even for an empty page: a bad cursor is refused whatever the page size.
  if (page.limit <= 0) return pages;
  const rows = await sql<Record<string, unknown>>(
    em,
    `SELECT t.* FROM unnest(?::uuid[]) AS parent(id)
       CROSS JOIN LATERAL (
         SELECT * FROM ${list.table} t
          WHERE t.${list.parent} = parent.id AND (${filter.sql})
            AND (?::uuid IS NULL OR (${list.key('t')}) > (SELECT ${list.key('c')} FROM ${list.table} c WHERE c.id = ?::uuid))
          ORDER BY ${list.key('t')}
          LIMIT ?) t
      ORDER BY t.${list.parent}, ${list.key('t')}`,
    [uuidArray(parents), ...filter.params, after, after, page.limit],
  );
  for (const row of rows) (pages.get(row[list.parent] as string) as T[]).push(em.map(list.entity, row as EntityDictionary<T>));
  return pages;
}
