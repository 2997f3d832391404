import type { FieldPath, InputErrors } from './errors.js';

/** A customer's reference as a hub's storefront names them (customer_order.customer_ref, hub_customer). */
export const MAX_CUSTOMER_REF = 200;

/** Trims a required piece of text and reports it if empty or longer than `max` characters. */
export function requiredText(value: string, field: FieldPath, max: number, errors: InputErrors): string {
  const text = value.trim();
  if (text.length === 0) errors.invalid('must not be empty', field);
  else if (characters(text) > max) errors.invalid(`must be at most ${max} characters`, field);
  return text;
}

/** Characters as PostgreSQL's varchar(n) counts them (code points), not UTF-16 units: an emoji is one. */
export function characters(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** NUL, or a surrogate code unit not part of a pair (`u` mode reads a pair as one code point, not as Cs). */
const UNSTORABLE = /[\u0000\p{Cs}]/u;

/**
 * Whether PostgreSQL cannot keep `text` as it is: a NUL fails the statement that carries it (as a
 * protocol violation, which reads as an outage), and a lone surrogate fails JSON for PostgreSQL.
 */
export function unstorableText(text: string): boolean {
  return UNSTORABLE.test(text);
}
