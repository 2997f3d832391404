/** The most items any list field returns in one response: no request can ask for unbounded work. */
export const MAX_LIST = 500;

/** How many items `first:` asks for: MAX_LIST when not given, and at most that. */
export function listSize(first?: number | null): number {
  return Math.min(Math.max(first ?? MAX_LIST, 0), MAX_LIST);
}
