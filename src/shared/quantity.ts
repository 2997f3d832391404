import { Decimal } from 'decimal.js';
import type { FieldPath, InputErrors } from './errors.js';

/**
 * Quantities are exact decimals, stored as numeric(15,3): three decimal places reach grams in a
 * kilogram, and more precision than that would be silently rounded by the database.
 */
export const QUANTITY_SCALE = 3;
export const MAX_QUANTITY = new Decimal('999999999');

const DECIMAL_PATTERN = /^-?\d+(\.\d+)?$/;

export interface QuantityRules {
  /** Whether the value may be negative (a stock adjustment may take stock away). */
  allowNegative?: boolean;
}

/**
 * Parses a client's decimal string, reporting every way it is unacceptable to `errors`.
 * Returns undefined when it is not a usable quantity.
 */
export function parseQuantity(
  raw: string,
  field: FieldPath,
  errors: InputErrors,
  rules: QuantityRules = {},
): Decimal | undefined {
  const text = raw.trim();
  if (!DECIMAL_PATTERN.test(text)) {
    errors.invalid(`"${raw}" is not a decimal number (use digits and an optional point, e.g. "2.5")`, field);
    return undefined;
  }
  const value = new Decimal(text);
  if (value.decimalPlaces() > QUANTITY_SCALE) {
    errors.invalid(`at most ${QUANTITY_SCALE} decimal places are allowed, got "${raw}"`, field);
    return undefined;
  }
  if (value.abs().greaterThan(MAX_QUANTITY)) {
    errors.invalid(`must be at most ${MAX_QUANTITY.toString()} in size, got "${raw}"`, field);
    return undefined;
  }
  if (value.isZero()) {
    errors.invalid('must not be zero', field);
    return undefined;
  }
  if (value.isNegative() && !rules.allowNegative) {
    errors.invalid(`must be positive, got "${raw}"`, field);
    return undefined;
  }
  return value;
}

const PLAIN_NUMERIC = /^(0|[1-9]\d*)(\.\d+)?$/;

/** The canonical text of a quantity read from PostgreSQL numeric: "2.500" becomes "2.5". */
export function formatQuantity(value: Decimal.Value): string {
  // A catalogue page formats hundreds of these: the common case, PostgreSQL's own text of a
  // non-negative numeric, only loses its trailing zeros, and needs no Decimal.
  if (typeof value === 'string' && PLAIN_NUMERIC.test(value)) {
    return value.includes('.') ? value.replace(/\.?0+$/, '') : value;
  }
  return new Decimal(value).toFixed();
}

/** Why a quantity of a product is refused: it sells in steps, and this is not a whole number of them. */
export function notWholeSteps(productName: string, step: Decimal.Value, unit: string, quantity: Decimal.Value): string {
  return `"${productName}" sells in steps of ${formatQuantity(step)} ${unit}: ${formatQuantity(quantity)} is not a whole number of them`;
}
