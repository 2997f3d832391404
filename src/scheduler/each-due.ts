import type { EntityManager } from '@mikro-orm/postgresql';
import type { RequestContext } from '../shared/request-context.js';
import { sql } from '../shared/sql.js';

/**
 * How long a scheduled job waits for the locks of one item (a session to complete, a hold to
 * expire) before leaving it for the next tick. Checkouts and payments hold them for milliseconds;
 * longer means the item is busy (another replica is doing it, a long completion holds its stock).
 */
export const ITEM_LOCK_WAIT_MS = 1_000;

/**
 * Does each due item in a transaction of its own, in the order given, and answers how many were
 * done. One item that cannot be done now never holds up the others, at this hub or any other: one
 * whose locks are busy past ITEM_LOCK_WAIT_MS is left for the next tick, and one that fails is
 * reported, with any others, once every item has had its turn (the next tick tries it again).
 */
export async function doEachDue(
  ctx: RequestContext,
  ids: readonly string[],
  work: (em: EntityManager, id: string) => Promise<boolean>,
): Promise<number> {
  let done = 0;
  const failures: unknown[] = [];
  for (const id of ids) {
    try {
      const did = await ctx.em.transactional(async (em) => {
        await sql(em, `SET LOCAL lock_timeout = ${ITEM_LOCK_WAIT_MS}`);
        return work(em, id);
      });
      if (did) done += 1;
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) failures.push(Object.assign(error as object, { itemId: id }));
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} of ${ids.length} due items failed (${done} done); the next tick tries them again`);
  return done;
}

/** lock_timeout ran out (SQLSTATE 55P03). */
const LOCK_NOT_AVAILABLE = '55P03';
