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
  options: { lock: boolean } = { lock: true },
): Promise<StockAt> {
  return (await stockAtLocations(em, productIds, options)).outside;
}

/** A figure for each (product, location); 0 where the product has no level. */
export type StockAt = (productId: string, locationId: string) => Decimal;

/**
 * stockOutsideLots(), and in the same read what no open session holds at each location (on hand
 * less held), which the pick plan keeps every order's picks within.
 */
export async function stockAtLocations(
  em: EntityManager,
  productIds: readonly string[],
  { lock }: { lock: boolean } = { lock: true },
): Promise<{ outside: StockAt; unheld: StockAt }> {
  // Locked first, read next: a statement that waits for a lock still reads other tables (the
  // lots) as of its own start, so a lot released meanwhile would count as outside lots.
  if (lock) await lockLevels(em, productIds);
  const rows = await sql<{ productId: string; locationId: string; outside: string; unheld: string }>(
    em,
    `SELECT s.product_id AS "productId", s.location_id AS "locationId",
            (s.on_hand - coalesce((SELECT sum(l.quantity) FROM lot l
                                    WHERE l.product_id = s.product_id AND l.location_id = s.location_id AND l.status = 'RELEASED'), 0))::text AS outside,
            (s.on_hand - s.held)::text AS unheld
       FROM stock_level s WHERE s.product_id = ANY(?::uuid[])
      ORDER BY s.product_id, s.location_id`,
    [uuidArray([...productIds])],
  );
  const figure = (read: (row: (typeof rows)[number]) => Decimal): StockAt => {
    const byKey = new Map(rows.map((r) => [`${r.productId} ${r.locationId}`, read(r)]));
    return (productId, locationId) => byKey.get(`${productId} ${locationId}`) ?? new Decimal(0);
  };
  return { outside: figure((r) => Decimal.max(new Decimal(r.outside), 0)), unheld: figure((r) => new Decimal(r.unheld)) };
}
