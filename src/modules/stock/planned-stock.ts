import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { DomainError, type FieldPath, UserErrorCode } from '../../shared/errors.js';
import { formatQuantity } from '../../shared/quantity.js';
import type { StockAt } from '../lots/stock-outside-lots.js';

/**
 * What the orders waiting to be picked (their pick plan, PickingService.plannedAt()) take of a
 * product at a location: from stock kept outside lots there, and in all (lots and stock outside
 * them).
 */
export type PlannedAt = (em: EntityManager, producerId: string, productId: string, locationId: string) => Promise<{ outsideLots: Decimal; all: Decimal }>;

/**
 * Stock kept outside lots that leaves a location without a lot (a transfer, a write-off) must
 * leave what the orders waiting to be picked ship there: their stock kept outside lots (their lots
 * there may not suit them: a unique item too big for the line, a lot below its grade), and, with
 * what open sessions hold there (holds never move), the room their lots there need. Called with
 * the product's levels locked, and `stock` as read under them (stockAtLocations()).
 */
export async function requireUnplannedOutsideLots(
  em: EntityManager,
  plannedAt: PlannedAt,
  where: { producerId: string; productId: string; locationId: string },
  stock: { outside: StockAt; unheld: StockAt },
  quantity: Decimal,
  field: FieldPath,
): Promise<void> {
  const { producerId, productId, locationId } = where;
  const planned = await plannedAt(em, producerId, productId, locationId);
  // Nothing planned there: what is held or committed is the level's to refuse, as it says.
  if (planned.all.isZero()) return;
  const outside = stock.outside(productId, locationId);
  const free = Decimal.max(Decimal.min(outside.minus(planned.outsideLots), stock.unheld(productId, locationId).minus(planned.all)), 0);
  if (quantity.greaterThan(free)) {
    throw DomainError.of(
      UserErrorCode.INSUFFICIENT_STOCK,
      `only ${formatQuantity(free)} of the ${formatQuantity(outside)} kept outside lots there is free: orders waiting to be picked ship the rest, or need its room (see their pickLines)`,
      field,
    );
  }
}
