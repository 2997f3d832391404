import { Decimal } from 'decimal.js';

/** A location that could give stock to a hold, as the hold sees it under the row locks. */
export interface LocationCandidate {
  locationId: string;
  priority: number;
  available: Decimal;
}

export interface LocationShare {
  locationId: string;
  quantity: Decimal;
}

/**
 * Which locations a hold takes stock from first. A strategy only ranks the candidates; the rule
 * that uses the ranking is the same for every strategy (see allocateAcrossLocations). To plug in
 * another (nearest to the hub, say), implement this and add it to LOCATION_STRATEGIES.
 */
export interface LocationStrategy {
  readonly name: string;
  rank(candidates: readonly LocationCandidate[]): LocationCandidate[];
}

/** The default: the producer's own order of preference (priority 1 first). */
export const priorityFirst: LocationStrategy = {
  name: 'priority',
  rank: (candidates) => [...candidates].sort((a, b) => a.priority - b.priority || compare(a.locationId, b.locationId)),
};

/** Keeps small remainders from scattering: the location with the most available stock first. */
export const mostStockFirst: LocationStrategy = {
  name: 'most-stock',
  rank: (candidates) => [...candidates].sort((a, b) => b.available.comparedTo(a.available) || a.priority - b.priority || compare(a.locationId, b.locationId)),
};

export const LOCATION_STRATEGIES: Record<string, LocationStrategy> = {
  [priorityFirst.name]: priorityFirst,
  [mostStockFirst.name]: mostStockFirst,
};

/**
 * Takes `quantity` from the first ranked location that has enough alone, so a line is picked in
 * one place when it can be; when none has, splits it across locations in ranked order. Returns
 * null when all of them together do not have enough.
 */
export function allocateAcrossLocations(strategy: LocationStrategy, quantity: Decimal, candidates: readonly LocationCandidate[]): LocationShare[] | null {
  const ranked = strategy.rank(candidates.filter((c) => c.available.greaterThan(0)));
  const whole = ranked.find((c) => c.available.greaterThanOrEqualTo(quantity));
  if (whole) return [{ locationId: whole.locationId, quantity }];
  const shares: LocationShare[] = [];
  let left = quantity;
  for (const candidate of ranked) {
    if (left.isZero()) break;
    const take = Decimal.min(left, candidate.available);
    shares.push({ locationId: candidate.locationId, quantity: take });
    left = left.minus(take);
  }
  return left.isZero() ? shares : null;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
