import type { EntityManager } from '@mikro-orm/postgresql';
import { sql, uuidArray } from '../../shared/sql.js';

/**
 * Locks these products' stock levels in the order every stock write takes them (product, then
 * lock_seq: see StockLevel.lockSeq), in a statement of its own: the caller's next statement then reads them, and anything
 * it joins, as of after the wait, with every change committed meanwhile.
 */
export async function lockLevels(em: EntityManager, productIds: Iterable<string>): Promise<void> {
  await sql(em, 'SELECT 1 FROM stock_level WHERE product_id = ANY(?::uuid[]) ORDER BY product_id, lock_seq FOR UPDATE', [uuidArray(new Set(productIds))]);
}
