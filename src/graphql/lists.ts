import { DomainError, UserErrorCode } from '../shared/errors.js';

/** The most items any list field returns in one response: no request can ask for unbounded work. */
export const MAX_LIST = 500;

/**
 * How many items `first:` asks for: MAX_LIST when not given, and at most that. A negative count is
 * a client's mistake, refused rather than read as none.
 */
export function listSize(first?: number | null): number {
  if (first !== null && first !== undefined && first < 0) {
    throw DomainError.of(UserErrorCode.INVALID_INPUT, `first must not be negative (it was ${first})`, ['first']);
  }
  return Math.min(first ?? MAX_LIST, MAX_LIST);
}
