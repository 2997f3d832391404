import type { FieldPath, InputErrors } from './errors.js';

/** A price's ceiling: a million in a currency with cents, far past any wholesale line, well inside an integer column. */
export const MAX_PRICE_MINOR_UNITS = 100_000_000;

/** Reports a price that is not a whole number of minor units in range, with an ISO 4217 code. */
export function checkPrice(price: { amount: number; currency: string }, field: FieldPath, errors: InputErrors): void {
  if (!Number.isInteger(price.amount) || price.amount < 0 || price.amount > MAX_PRICE_MINOR_UNITS) {
    errors.invalid(`must be a whole number of minor units from 0 to ${MAX_PRICE_MINOR_UNITS}`, [...field, 'amount']);
  }
  if (!/^[A-Z]{3}$/.test(price.currency)) errors.invalid('must be an ISO 4217 code such as EUR', [...field, 'currency']);
}
