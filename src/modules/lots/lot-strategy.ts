import type { Decimal } from 'decimal.js';
import type { LotGrade, LotKind } from './lot.entity.js';

/** A released lot that could be picked, with what is not already promised to a picker. */
export interface LotCandidate {
  id: string;
  code: string;
  productId: string;
  locationId: string;
  kind: LotKind;
  grade: LotGrade;
  harvestedOn: string | null;
  bestBefore: string | null;
  /** Its quantity less what pickers pinned to other orders. */
  free: Decimal;
}

/**
 * The order in which lots that meet a line's criteria are suggested. A strategy only ranks;
 * which lots are eligible and how much each gives is the same for all (see the pick planner).
 * To plug in another, implement this and pass it to the PickingService.
 */
export interface LotStrategy {
  readonly name: string;
  rank(candidates: readonly LotCandidate[]): LotCandidate[];
}

/** The default: first expired, first out. Lots without a best-before keep, so they go last. */
export const earliestBestBefore: LotStrategy = {
  name: 'earliest-best-before',
  rank: (candidates) =>
    [...candidates].sort(
      (a, b) =>
        compareDates(a.bestBefore, b.bestBefore) || compareDates(a.harvestedOn, b.harvestedOn) || compare(a.code, b.code) || compare(a.id, b.id),
    ),
};

/** Absent dates sort last. */
function compareDates(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return compare(a, b);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
