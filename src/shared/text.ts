import type { FieldPath, InputErrors } from './errors.js';

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
