import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { type FieldPath, type UserErrorDetail, UserErrorCode, userError } from '../../shared/errors.js';
import { formatQuantity } from '../../shared/quantity.js';
import { sql, uuidArray } from '../../shared/sql.js';

/*
 * An offer may be capped: at most `cap` of its product is checked out in its session, whatever
 * the producer has (Offer.cap). `offer.taken` counts what live orders hold of it. The database
 * keeps the rule (Migration20261125042822): place_customer_order() raises `taken` with the lines
 * it writes and the CHECK `taken <= cap` refuses a basket past the cap; a release lowers it
 * (releaseOfferCaps()), and a session's cancel sets it to 0 (releaseSessionCaps()). Offers are
 * locked after the session and before the stock levels, in id order, by every writer.
 */

/** A basket line of a capped offer, as the checkout read it (without a lock). */
export interface CappedLine {
  offerId: string;
  productName: string;
  unit: string;
  /** The product's: what is left is told in whole steps of it. */
  sellableStep: string;
  quantity: Decimal;
  cap: string;
  /** What live orders held of the offer when it was read. */
  taken: string;
  field: FieldPath;
}

/** Whether the write of a basket was refused because it took a capped offer past its cap. */
export function overCap(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string } | null;
  return e?.code === '23514' && e.constraint === 'offer_cap_not_exceeded';
}

/**
 * Why a cap cannot be the product's (undefined when it can): a cap between two of its sellable
 * steps could never be reached, since customers buy whole steps.
 */
export function capOffSteps(cap: Decimal, product: { sellableStep: string; unit: string }): string | undefined {
  if (cap.mod(product.sellableStep).isZero()) return undefined;
  return `must be a whole number of the product's sellable steps (${formatQuantity(product.sellableStep)} ${product.unit})`;
}

/** What is left under an offer's cap, never below zero. */
function capHeadroom(cap: string, taken: string): Decimal {
  return Decimal.max(0, new Decimal(cap).minus(taken));
}

/** The default sellable step (any quantity, to the gram): every quantity is a whole number of it. */
const ANY_QUANTITY = '0.001';

/**
 * What an offer can still sell, as a checkout would take it: its product's available stock, no
 * more than its cap leaves, in whole sellable steps (1.3 kg of a cheese sold by the half kilo
 * sells as 1).
 */
export function offerAvailable(offer: { cap?: string | null; taken: string }, stockAvailable: string, sellableStep: string): string {
  const capped = offer.cap === null || offer.cap === undefined ? undefined : capHeadroom(offer.cap, offer.taken);
  // A catalogue page works this out for hundreds of offers: the usual one, uncapped and sold by
  // any quantity, needs no arithmetic.
  if (!capped && (sellableStep === ANY_QUANTITY || new Decimal(sellableStep).equals(ANY_QUANTITY))) return stockAvailable;
  const limit = capped ? Decimal.min(stockAvailable, capped) : new Decimal(stockAvailable);
  return formatQuantity(inWholeSteps(limit, sellableStep));
}

/**
 * `quantity` down to whole sellable steps, never below 0: what a customer can check out of it. A
 * write-off can leave part of a step, and a step changed since a cap was set can leave part of
 * one under the cap.
 */
export function inWholeSteps(quantity: Decimal.Value, sellableStep: string): Decimal {
  const step = new Decimal(sellableStep);
  return Decimal.max(0, new Decimal(quantity).div(step).floor().times(step));
}

/** Whether a line looks past its cap as read: only a read under lock (lockCappedOffers()) can say for sure. */
export function seemsOverCap(lines: readonly CappedLine[]): boolean {
  return lines.some((line) => line.quantity.greaterThan(capHeadroom(line.cap, line.taken)));
}

/** A line past what its offer's cap leaves. */
export interface CapShortfall {
  line: CappedLine;
  /** The cap as read under lock (it may have changed since the line was read). */
  cap: string;
  left: Decimal;
}

/**
 * Locks the basket's capped offers (FOR NO KEY UPDATE, in id order) and answers the lines past
 * what their caps leave: under these locks the answer is final, and the order written after it
 * in the same transaction cannot be refused by a cap.
 */
export async function lockCappedOffers(em: EntityManager, lines: readonly CappedLine[]): Promise<CapShortfall[]> {
  if (lines.length === 0) return [];
  const rows = await sql<{ id: string; cap: string | null; taken: string }>(
    em,
    'SELECT id, cap::text AS cap, taken::text AS taken FROM offer WHERE id = ANY(?::uuid[]) ORDER BY id FOR NO KEY UPDATE',
    [uuidArray(lines.map((line) => line.offerId))],
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  return lines.flatMap((line) => {
    const { cap, taken } = byId.get(line.offerId)!;
    // Lifted since the line was read (updateOfferCap): nothing to check.
    if (cap === null) return [];
    const left = capHeadroom(cap, taken);
    return line.quantity.greaterThan(left) ? [{ line, cap, left }] : [];
  });
}

/** The answer to a line its offer's cap cannot take, when the cap leaves less than the stock. */
export function capShortfallError({ line, cap, left }: CapShortfall): UserErrorDetail {
  return userError(
    UserErrorCode.INSUFFICIENT_STOCK,
    `only ${formatQuantity(inWholeSteps(left, line.sellableStep))} ${line.unit} of "${line.productName}" is left in this session (the hub offers ${formatQuantity(cap)} ${line.unit}), ${formatQuantity(line.quantity)} was asked`,
    line.field,
  );
}

/**
 * Gives back what a customer order took of capped offers, as it is released (payment failed, hold
 * expired, order cancelled): call it in the release's transaction, with the order locked and
 * before the stock levels are, which is the order every writer takes them in.
 */
export async function releaseOfferCaps(em: EntityManager, customerOrderId: string): Promise<void> {
  await sql(
    em,
    `WITH released AS (
       SELECT f.id, l.quantity
         FROM offer f
         JOIN (SELECT offer_id, sum(quantity) AS quantity FROM customer_order_line WHERE customer_order_id = ? GROUP BY offer_id) l
           ON l.offer_id = f.id
        WHERE f.cap IS NOT NULL
        ORDER BY f.id
          FOR NO KEY UPDATE OF f)
     UPDATE offer f SET taken = f.taken - released.quantity FROM released WHERE f.id = released.id`,
    [customerOrderId],
  );
}

/**
 * Gives back what every live order of a session took of its capped offers, as they are all
 * released at once (the hub cancelled the session): nothing is taken of them any more. Call it with
 * the session locked FOR UPDATE, before the stock levels are locked.
 */
export async function releaseSessionCaps(em: EntityManager, salesSessionId: string): Promise<void> {
  await sql(
    em,
    `WITH released AS (
       SELECT id FROM offer WHERE sales_session_id = ? AND cap IS NOT NULL AND taken <> 0 ORDER BY id FOR NO KEY UPDATE)
     UPDATE offer f SET taken = 0 FROM released WHERE f.id = released.id`,
    [salesSessionId],
  );
}

/**
 * What live orders (PENDING_PAYMENT, CONFIRMED) hold of an offer, as committed: read through the
 * session's orders (the (session, status) index), so it costs what the session has, not what the
 * whole platform has, while the session is held for it.
 */
export async function heldByLiveOrders(em: EntityManager, salesSessionId: string, offerId: string): Promise<Decimal> {
  const [row] = await sql<{ held: string }>(
    em,
    `SELECT coalesce(sum(l.quantity), 0)::text AS held
       FROM customer_order o JOIN customer_order_line l ON l.customer_order_id = o.id
      WHERE o.sales_session_id = ? AND o.status IN ('PENDING_PAYMENT', 'CONFIRMED') AND l.offer_id = ?`,
    [salesSessionId, offerId],
  );
  return new Decimal(row!.held);
}

/** A capped offer whose count disagrees with the live orders' lines (for operators: npm run check:stock). */
export interface CapDrift {
  offerId: string;
  cap: string;
  taken: string;
  heldByOrders: string;
}

/** Every capped offer whose `taken` is not what its live orders hold, as one snapshot. */
export function capDrift(em: EntityManager): Promise<CapDrift[]> {
  return sql<CapDrift>(
    em,
    `SELECT f.id AS "offerId", trim_scale(f.cap)::text AS cap, trim_scale(f.taken)::text AS taken,
            trim_scale(coalesce(l.quantity, 0))::text AS "heldByOrders"
       FROM offer f
       LEFT JOIN (SELECT l.offer_id, sum(l.quantity) AS quantity
                    FROM customer_order_line l JOIN customer_order o ON o.id = l.customer_order_id
                   WHERE o.status IN ('PENDING_PAYMENT', 'CONFIRMED') GROUP BY l.offer_id) l ON l.offer_id = f.id
      WHERE f.cap IS NOT NULL AND f.taken <> coalesce(l.quantity, 0)
      ORDER BY f.id`,
  );
}

/** How many offers are capped, to say what a check covered. */
export async function cappedOfferCount(em: EntityManager): Promise<number> {
  const [row] = await sql<{ n: number }>(em, 'SELECT count(*)::int AS n FROM offer WHERE cap IS NOT NULL');
  return row!.n;
}
