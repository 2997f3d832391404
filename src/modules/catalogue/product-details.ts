import { formatQuantity, parseQuantity } from '../../shared/quantity.js';
import { checkPrice } from '../../shared/money.js';
import type { InputErrors } from '../../shared/errors.js';
import { characters } from '../../shared/text.js';
import type { Product } from './product.entity.js';

export const MAX_DESCRIPTION_LENGTH = 5000;
/** Any quantity a checkout can name (three decimals): a product sells in these unless set otherwise. */
export const DEFAULT_SELLABLE_STEP = '0.001';

/**
 * What a producer says about a product beyond its name, SKU and unit. In an update, a field left
 * out stays as it is and `null` clears it, except the step, which every product has (`null` is
 * refused: 0.001 sells any quantity).
 */
export interface ProductDetailsFields {
  description?: string | null;
  gtin?: string | null;
  sellableStep?: string | null;
  netWeightKg?: string | null;
  dimensions?: { lengthCm: string; widthCm: string; heightCm: string } | null;
  wholesalePrice?: { amount: number; currency: string } | null;
}

/** The product's columns these details set: only those the fields name. */
export type ProductDetails = Partial<
  Pick<Product, 'description' | 'gtin' | 'sellableStep' | 'netWeightKg' | 'lengthCm' | 'widthCm' | 'heightCm' | 'wholesalePriceAmount' | 'wholesalePriceCurrency'>
>;

/** Checks the details, reporting every problem to `errors`, and returns the columns they set. */
export function productDetails(fields: ProductDetailsFields, errors: InputErrors): ProductDetails {
  const details: ProductDetails = {};
  if (fields.description !== undefined) {
    const text = fields.description?.trim() ?? '';
    if (characters(text) > MAX_DESCRIPTION_LENGTH) errors.invalid(`must be at most ${MAX_DESCRIPTION_LENGTH} characters`, ['description']);
    // An empty description is no description.
    details.description = text === '' ? null : text;
  }
  if (fields.gtin !== undefined) {
    const gtin = fields.gtin?.trim() ?? null;
    if (gtin !== null && !isGtin(gtin)) {
      errors.invalid(`"${fields.gtin}" is not a GTIN: 8, 12, 13 or 14 digits whose last is the check digit of the others`, ['gtin']);
    }
    details.gtin = gtin;
  }
  if (fields.sellableStep !== undefined) {
    if (fields.sellableStep === null) errors.invalid('cannot be cleared: set 0.001 to sell any quantity', ['sellableStep']);
    else details.sellableStep = positive(fields.sellableStep, ['sellableStep'], errors);
  }
  if (fields.netWeightKg !== undefined) {
    details.netWeightKg = fields.netWeightKg === null ? null : positive(fields.netWeightKg, ['netWeightKg'], errors);
  }
  if (fields.dimensions !== undefined) {
    const d = fields.dimensions;
    details.lengthCm = d && positive(d.lengthCm, ['dimensions', 'lengthCm'], errors);
    details.widthCm = d && positive(d.widthCm, ['dimensions', 'widthCm'], errors);
    details.heightCm = d && positive(d.heightCm, ['dimensions', 'heightCm'], errors);
  }
  if (fields.wholesalePrice !== undefined) {
    const price = fields.wholesalePrice;
    if (price) checkPrice(price, ['wholesalePrice'], errors);
    details.wholesalePriceAmount = price?.amount ?? null;
    details.wholesalePriceCurrency = price?.currency ?? null;
  }
  return details;
}

/** Whether the details change nothing of `product`: a retried creation replays, another is refused. */
export function sameDetails(product: Product, details: ProductDetails): boolean {
  return Object.entries(details).every(([key, value]) => {
    const current = product[key as keyof ProductDetails] ?? null;
    return DECIMAL_DETAILS.has(key) && current !== null && value !== null
      ? formatQuantity(current) === formatQuantity(value as string)
      : current === (value ?? null);
  });
}

/** The details kept as numeric, which the same value may spell differently ("0.5", "0.500"). */
const DECIMAL_DETAILS: ReadonlySet<string> = new Set(['sellableStep', 'netWeightKg', 'lengthCm', 'widthCm', 'heightCm']);

/** A positive quantity of at most three decimals, as text; undefined (reported) otherwise. */
function positive(raw: string, field: (string | number)[], errors: InputErrors): string | undefined {
  return parseQuantity(raw, field, errors)?.toFixed();
}

/**
 * A GS1 GTIN: 8, 12 (UPC-A), 13 (EAN-13) or 14 digits, the last the check digit: weighting the
 * others 3, 1, 3, ... from the right, the total with it is a multiple of 10.
 */
export function isGtin(text: string): boolean {
  if (!/^(\d{8}|\d{12,14})$/.test(text)) return false;
  let total = 0;
  for (let i = text.length - 1, weight = 1; i >= 0; i--, weight = 4 - weight) total += Number(text[i]) * weight;
  return total % 10 === 0;
}
