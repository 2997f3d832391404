import type { EntityManager } from '@mikro-orm/postgresql';
import type { RequestContext } from '../shared/request-context.js';
import { LOCK_NOT_AVAILABLE, sql } from '../shared/sql.js';
import { levelsBusy, stillBusy } from '../modules/stock/level-locks.js';

/**
 * How long a scheduled job waits for the locks of one item (a session to complete, a hold to
 * expire) before leaving it for the next tick. Checkouts and payments hold them for milliseconds;
 * longer means the item is busy (another replica is doing it, a long completion holds its stock).
 */
export const ITEM_LOCK_WAIT_MS = 1_000;

/** A due item, and the products whose stock levels its work locks. */
export interface DueItem {
  id: string;
  productIds: readonly string[];
}

/** What one pass over the due items did, and what it left for the next tick. */
export interface DueOutcome {
  done: number;
  /** Items whose locks stayed busy past ITEM_LOCK_WAIT_MS. */
  busy: number;
  /** Items not tried, since they lock a product whose levels were busy: they would only wait as long. */
  skipped: number;
}

/**
 * Does each due item in a transaction of its own, in the order given. One item that cannot be
 * done now never holds up the others, at this hub or any other: one whose locks are busy past
 * ITEM_LOCK_WAIT_MS is left for the next tick. When what was busy is stock levels (levelsBusy()),
 * every later item that locks a product whose levels someone still holds (stillBusy()) is left
 * too, untried: a product whose levels another transaction holds for seconds (a large completion
 * on another replica, a cancel) costs the pass one wait, not one per lapsed hold or session of
 * it. (A busy order or session row says nothing of its products: the next item of them is
 * tried.) One that fails is reported, with any others, once every item has had its turn (the
 * next tick tries it again).
 */
export async function doEachDue(
  ctx: RequestContext,
  items: readonly DueItem[],
  work: (em: EntityManager, id: string) => Promise<boolean>,
): Promise<DueOutcome> {
  const outcome: DueOutcome = { done: 0, busy: 0, skipped: 0 };
  const busyProducts = new Set<string>();
  const failures: unknown[] = [];
  for (const { id, productIds } of items) {
    if (productIds.some((p) => busyProducts.has(p))) {
      outcome.skipped += 1;
      continue;
    }
    try {
      const did = await ctx.em.transactional(async (em) => {
        await sql(em, `SET LOCAL lock_timeout = ${ITEM_LOCK_WAIT_MS}`);
        return work(em, id);
      });
      if (did) outcome.done += 1;
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) {
        failures.push(Object.assign(error as object, { itemId: id }));
        continue;
      }
      outcome.busy += 1;
      const named = levelsBusy(error);
      // Only those still held by someone else: the item's other products may be free.
      if (named) for (const p of await stillBusy(ctx.em, named).catch(() => [])) busyProducts.add(p);
    }
  }
  if (failures.length > 0) {
    throw new AggregateError(failures, `${failures.length} of ${items.length} due items failed (${outcome.done} done); the next tick tries them again`);
  }
  return outcome;
}
