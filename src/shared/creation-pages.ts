import { type EntityName, type FilterQuery, QueryOrder } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError, UserErrorCode } from './errors.js';
import { isUuid } from './ids.js';

export interface CreationPage<T> {
  /** Who and what is listed, without filters on what changes (a state): the cursor must be one of these. */
  listed: FilterQuery<T>;
  /** Narrower than `listed`, as asked for (a state, ...). */
  where: FilterQuery<T>;
  /** At most this many rows (listSize() of the caller's `first:`). */
  limit: number;
  /** Only the rows after this one: the next page after the last row seen. */
  after?: string | null;
  /** What the cursor must be, for its NOT_FOUND message: "producer order of this list". */
  notFound: string;
  /**
   * Orders rows that share their instant before their (random) ids: customer orders of one
   * checkout batch by arrival_seq, the order they were placed in. Rows without one come first.
   */
  tiebreak?: { property: string; column: string };
}

/**
 * A page of rows oldest first, by (created_at, the tiebreak if any, id). The cursor is one of the
 * rows listed for the caller, though not necessarily still in the state asked for: a state may
 * change between pages.
 */
export async function pageByCreation<T extends object>(em: EntityManager, entity: EntityName<T>, page: CreationPage<T>): Promise<T[]> {
  const table = em.getMetadata().find(entity)!.tableName;
  const tiebreak = page.tiebreak;
  const orderBy = { createdAt: QueryOrder.ASC, ...(tiebreak ? { [tiebreak.property]: QueryOrder.ASC_NULLS_FIRST } : {}), id: QueryOrder.ASC };
  const query = em.createQueryBuilder(entity, 'r').where(page.where).orderBy(orderBy as never).limit(page.limit);
  if (page.after !== undefined && page.after !== null) {
    const cursor = isUuid(page.after) ? await em.findOne(entity, { ...page.listed, id: page.after } as FilterQuery<T>) : null;
    if (!cursor) throw DomainError.of(UserErrorCode.NOT_FOUND, `no ${page.notFound} with id "${page.after}"`, ['after']);
    // Compared in SQL: created_at may hold microseconds a JavaScript Date would drop. A missing
    // tiebreak counts as 0, before every one given (sequences start at 1), as NULLS FIRST sorts it.
    const key = (a: string) => [`${a}.created_at`, ...(tiebreak ? [`coalesce(${a}.${tiebreak.column}, 0)`] : []), `${a}.id`].join(', ');
    query.andWhere(`(${key('r')}) > (SELECT ${key('c')} FROM ${table} c WHERE c.id = ?)`, [page.after]);
  }
  return query.getResult();
}
