import type { EntityManager } from '@mikro-orm/postgresql';
import { LOCK_NOT_AVAILABLE, sql, uuidArray } from '../../shared/sql.js';

/**
 * Locks these products' stock levels in the order every stock write takes them (product, then
 * lock_seq: see StockLevel.lockSeq), in a statement of its own: the caller's next statement then reads them, and anything
 * it joins, as of after the wait, with every change committed meanwhile.
 */
export async function lockLevels(em: EntityManager, productIds: Iterable<string>): Promise<void> {
  const products = [...new Set(productIds)];
  await namingBusyLevels(products, sql(em, 'SELECT 1 FROM stock_level WHERE product_id = ANY(?::uuid[]) ORDER BY product_id, lock_seq FOR UPDATE', [uuidArray(products)]));
}

/**
 * A statement that locks these products' levels, whose lock_timeout, if it runs out, names them
 * (levelsBusy()): the scheduler then leaves their other due items for the next tick instead of
 * waiting for each in turn (doEachDue()).
 */
export function namingBusyLevels<T>(productIds: readonly string[], statement: Promise<T>): Promise<T> {
  return statement.catch((error: unknown) => {
    if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) Object.assign(error as object, { busyProductIds: productIds });
    throw error;
  });
}

/**
 * Of the products a lock_timeout ran out on, those another transaction still holds a level of:
 * the statement stopped at the first busy level, so the rest it named may be free. Each level is
 * tried without waiting (SKIP LOCKED); the free ones are let go again as the statement commits.
 */
export async function stillBusy(em: EntityManager, productIds: readonly string[]): Promise<string[]> {
  const rows = await sql<{ productId: string }>(
    em,
    `SELECT p AS "productId" FROM unnest(?::uuid[]) AS p
      WHERE (SELECT count(*) FROM stock_level s WHERE s.product_id = p)
          > (SELECT count(*) FROM (SELECT 1 FROM stock_level s WHERE s.product_id = p FOR UPDATE SKIP LOCKED) AS free)`,
    [uuidArray(productIds)],
  );
  return rows.map((r) => r.productId);
}

/** The products whose levels a lock_timeout ran out on (namingBusyLevels()), if that is what `error` is. */
export function levelsBusy(error: unknown): readonly string[] | undefined {
  return (error as { busyProductIds?: readonly string[] } | undefined)?.busyProductIds;
}
