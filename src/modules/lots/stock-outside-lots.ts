import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { sql, uuidArray } from '../../shared/sql.js';
import { lockLevels } from '../stock/level-locks.js';

/**
 * Stock on hand at a location is its released lots plus stock kept outside lots. Whatever takes
 * stock on hand without naming a lot (a transfer, the part of a shipment no lot covers) may take
 * only the stock outside lots, or the lots would claim stock that is no longer there.
 *
 * Reads it for each (product, location) of these products; for a caller about to write, locking
 * the levels in the order every stock write takes them, so what was read is still there when it
 * writes. Never below zero: a level an adjustment took below its lots has nothing outside them.
 */
export async function stockOutsideLots(
  em: EntityManager,
  productIds: readonly string[],
  { lock }: { lock: boolean } = { lock: true },
): Promise<(productId: string, locationId: string) => Decimal> {
  // Locked first, read next: a statement that waits for a lock still reads other tables (the
  // lots) as of its own start, so a lot released meanwhile would count as outside lots.
  if (lock) await lockLevels(em, productIds);
  const rows = await sql<{ productId: string; locationId: string; outside: string }>(
    em,
    `SELECT s.product_id AS "productId", s.location_id AS "locationId",
            (s.on_hand - coalesce((SELECT sum(l.quantity) FROM lot l
                                    WHERE l.product_id = s.product_id AND l.location_id = s.location_id AND l.status = 'RELEASED'), 0))::text AS outside
       FROM stock_level s WHERE s.product_id = ANY(?::uuid[])
      ORDER BY s.product_id, s.location_id`,
    [uuidArray([...productIds])],
  );
  const outside = new Map(rows.map((r) => [`${r.productId} ${r.locationId}`, Decimal.max(new Decimal(r.outside), 0)]));
  return (productId, locationId) => outside.get(`${productId} ${locationId}`) ?? new Decimal(0);
}
