import type { EntityManager } from '@mikro-orm/postgresql';
import type { Decimal } from 'decimal.js';
import type { FieldPath } from '../../shared/errors.js';

/**
 * Runs `write`, a stock write that takes stock kept outside lots away from a location (a transfer,
 * a write-off), and refuses it (INSUFFICIENT_STOCK on `field`, its transaction then rolling back)
 * if the orders waiting to be picked, planned again after it in its transaction, leave any of
 * them shorter than before (PickingService.guardPlan()): stock one of them ships there (its lots
 * may not suit it: a unique item too big for the line, a lot below its grade), or the room its
 * lots need where open sessions hold the rest. An order that can be given other stock instead is
 * given it. Call it with the product's levels locked.
 */
export type PlanGuard = <T>(
  em: EntityManager,
  where: { producerId: string; productId: string },
  field: FieldPath,
  write: (planned: readonly PlannedProductLine[]) => Promise<T>,
) => Promise<T>;

/**
 * A line of the plan the guard read before the write (PlannedLine), of the product written: a
 * write that moves what backs the lines (moveLot) reads them here rather than plan again. None
 * when no order waits to pick the product.
 */
export interface PlannedProductLine {
  producerOrderId: string;
  picks: readonly { lotId: string; locationId: string; quantity: Decimal }[];
  untracked: readonly { locationId: string; quantity: Decimal }[];
}
