/** The most items any list field returns in one response: no request can ask for unbounded work. */
export const MAX_LIST = 500;

/** The first `first` items (default and most: MAX_LIST). */
export function firstOf<T>(items: T[], first?: number | null): T[] {
  return items.slice(0, Math.min(Math.max(first ?? MAX_LIST, 0), MAX_LIST));
}
