import type { FieldPath, InputErrors } from './errors.js';

/** Trims a required piece of text and reports it if empty or longer than `max`. */
export function requiredText(value: string, field: FieldPath, max: number, errors: InputErrors): string {
  const text = value.trim();
  if (text.length === 0) errors.invalid('must not be empty', field);
  else if (text.length > max) errors.invalid(`must be at most ${max} characters`, field);
  return text;
}
