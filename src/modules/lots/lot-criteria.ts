import { DateTime } from 'luxon';
import { DomainError, UserErrorCode } from '../../shared/errors.js';
import { LotGrade } from './lot.entity.js';

/** What an offer asks of the lots picked for it. Empty criteria accept every released lot. */
export interface LotCriteria {
  minGrade?: LotGrade | null;
  /** Days of shelf life left at delivery: best-before minus the delivery day. */
  minShelfLifeDays?: number | null;
}

/** Higher is better. */
const GRADE_RANK: Record<LotGrade, number> = {
  [LotGrade.EXTRA]: 3,
  [LotGrade.CLASS_I]: 2,
  [LotGrade.CLASS_II]: 1,
};

/**
 * Why a lot fails the criteria for a delivery on `deliveryDay` (an ISO date); empty when it meets
 * them. A lot without a best-before date keeps (it is not perishable), so it meets any shelf life.
 */
export function unmetCriteria(lot: { grade: LotGrade; bestBefore?: string | null }, criteria: LotCriteria, deliveryDay: string): string[] {
  const reasons: string[] = [];
  if (criteria.minGrade && GRADE_RANK[lot.grade] < GRADE_RANK[criteria.minGrade]) {
    reasons.push(`grade ${lot.grade} is below the ${criteria.minGrade} asked for`);
  }
  if (criteria.minShelfLifeDays !== null && criteria.minShelfLifeDays !== undefined && lot.bestBefore) {
    const left = shelfLifeDays(lot.bestBefore, deliveryDay);
    if (left < criteria.minShelfLifeDays) {
      reasons.push(`${left} days of shelf life left at delivery on ${deliveryDay}, ${criteria.minShelfLifeDays} asked for`);
    }
  }
  return reasons;
}

export function meetsCriteria(lot: { grade: LotGrade; bestBefore?: string | null }, criteria: LotCriteria, deliveryDay: string): boolean {
  return unmetCriteria(lot, criteria, deliveryDay).length === 0;
}

/** Whole days from the delivery day to the best-before day (calendar days, no time zone involved). */
export function shelfLifeDays(bestBefore: string, deliveryDay: string): number {
  return Math.round(DateTime.fromISO(bestBefore, { zone: 'utc' }).diff(DateTime.fromISO(deliveryDay, { zone: 'utc' }), 'days').days);
}

/** Refuses a delivery day that is not a real YYYY-MM-DD date (pick and pack lists are per day). */
export function requireDeliveryDay(day: string): void {
  if (!isIsoDate(day)) throw DomainError.of(UserErrorCode.INVALID_INPUT, `"${day}" is not a date (YYYY-MM-DD)`, ['deliveryDay']);
}

/**
 * A calendar date as clients send it: YYYY-MM-DD, a real day, in the years 0001 to 9999 (as for
 * DateTime: PostgreSQL's dates have no year 0, which luxon's have).
 */
export function isIsoDate(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && !value.startsWith('0000') && DateTime.fromISO(value, { zone: 'utc' }).isValid;
}
