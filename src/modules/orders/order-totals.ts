import { Decimal } from 'decimal.js';
import type { Money } from '../../graphql/money.js';

/** GraphQL's Int, which Money.amount is: a larger amount has no way to be written. */
const MAX_MONEY_AMOUNT = 2 ** 31 - 1;

/**
 * What a line costs: its quantity times the unit price, rounded half up to a whole minor unit (2.5
 * kg at 319 cents is 797.5, so 798), as a receipt shows each line. Exact: decimals, never floats.
 */
export function lineAmount(quantity: string, unitPriceAmount: number): Decimal {
  return new Decimal(quantity).times(unitPriceAmount).toDecimalPlaces(0, Decimal.ROUND_HALF_UP);
}

/** An amount as Money, or null past what Money's Int holds (2,147,483,647 minor units). */
export function moneyOrNull(amount: Decimal, currency: string): Money | null {
  return amount.lessThanOrEqualTo(MAX_MONEY_AMOUNT) ? { amount: amount.toNumber(), currency } : null;
}

/** The sum of the lines' amounts (each rounded first), or null when they are in more than one currency. */
export function orderTotal(lines: readonly { quantity: string; unitPriceAmount: number; currency: string }[]): Money | null {
  return asMoney(totalAtPrices(lines.map((l) => ({ quantity: l.quantity, amount: l.unitPriceAmount, currency: l.currency }))));
}

/** An exact amount of minor units in one currency, before it is written as Money. */
export interface Amount {
  amount: Decimal;
  currency: string;
}

/** An amount as Money: null when there is none, or past what Money's Int holds. */
export function asMoney(amount: Amount | null): Money | null {
  return amount && moneyOrNull(amount.amount, amount.currency);
}

/**
 * What quantities cost at their unit prices (a basket's lines, or a producer order line's shares
 * by wholesale price): each quantity times its price, rounded half up to a whole minor unit,
 * summed. Null when there are none, one has no price, or they are in more than one currency: there
 * is then no one figure to pay or owe.
 */
export function totalAtPrices(shares: readonly { quantity: string; amount: number | null; currency: string | null }[]): Amount | null {
  const currencies = new Set(shares.map((s) => s.currency));
  const [currency] = currencies;
  if (currencies.size !== 1 || !currency || shares.some((s) => s.amount === null)) return null;
  return { amount: Decimal.sum(0, ...shares.map((s) => lineAmount(s.quantity, s.amount!))), currency };
}

/** The one wholesale price quantities were checked out at, if there is one (and it is known). */
export function singleWholesalePrice(shares: readonly { amount: number | null; currency: string | null }[]): Money | null {
  const [only, ...more] = shares;
  return only && more.length === 0 && only.amount !== null && only.currency !== null ? { amount: only.amount, currency: only.currency } : null;
}

/** The sum of amounts, or null when there are none, one is null, or they are in more than one currency. */
export function sumAmounts(amounts: readonly (Amount | null)[]): Amount | null {
  const known = amounts.filter((a): a is Amount => a !== null);
  if (known.length === 0 || known.length < amounts.length || new Set(known.map((a) => a.currency)).size !== 1) return null;
  return { amount: Decimal.sum(0, ...known.map((a) => a.amount)), currency: known[0]!.currency };
}
