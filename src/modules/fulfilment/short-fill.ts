import { Decimal } from 'decimal.js';

/** A customer's line for one product of a producer order, as the short-fill rule sees it. */
export interface ClaimingLine {
  lineId: string;
  customerOrderId: string;
  quantity: Decimal;
  /** The hub marked the customer as priority (a care home, a school). */
  priority: boolean;
  /** When the customer checked out. */
  orderedAt: Date;
  /**
   * Its order's place in the order checkouts were placed (customer_order.arrival_seq, or for a
   * changed basket its first checkout's, first_arrival_seq), for the checkouts whose instants tie
   * (a batch's share one); null for orders placed before it was kept.
   */
  arrivalSeq: bigint | null;
}

export interface Cut {
  lineId: string;
  customerOrderId: string;
  /** What the line loses. */
  lost: Decimal;
  /** What it really gets. */
  fulfilled: Decimal;
}

/**
 * Shares a shortage out among the lines that claimed the product: the latest orders lose first,
 * and priority customers lose only once everyone else has lost everything. Returns every line
 * with what it gets (the whole line when the rule does not reach it).
 */
export function allocateShortage(shortage: Decimal, lines: readonly ClaimingLine[]): Cut[] {
  const order = [...lines].sort(
    (a, b) => Number(a.priority) - Number(b.priority) || b.orderedAt.getTime() - a.orderedAt.getTime() || laterFirst(a.arrivalSeq, b.arrivalSeq) ||
      // Only lines of one order, or orders placed before arrivals were numbered, get here.
      (a.lineId < b.lineId ? 1 : -1),
  );
  let left = Decimal.max(shortage, 0);
  const lost = new Map<string, Decimal>();
  for (const line of order) {
    const take = Decimal.min(left, line.quantity);
    lost.set(line.lineId, take);
    left = left.minus(take);
  }
  return lines.map((line) => {
    const cut = lost.get(line.lineId) ?? new Decimal(0);
    return { lineId: line.lineId, customerOrderId: line.customerOrderId, lost: cut, fulfilled: line.quantity.minus(cut) };
  });
}

/** Descending, an unnumbered (older) order last. */
function laterFirst(a: bigint | null, b: bigint | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return a > b ? -1 : 1;
}
