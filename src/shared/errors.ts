/** Codes a client can switch on; part of the public contract. */
export enum UserErrorCode {
  INVALID_INPUT = 'INVALID_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  INSUFFICIENT_STOCK = 'INSUFFICIENT_STOCK',
  SESSION_NOT_OPEN = 'SESSION_NOT_OPEN',
  INVALID_STATE = 'INVALID_STATE',
  HOLD_EXPIRED = 'HOLD_EXPIRED',
  IDEMPOTENCY_CONFLICT = 'IDEMPOTENCY_CONFLICT',
  FORBIDDEN = 'FORBIDDEN',
}

export type FieldPath = readonly (string | number)[];

export interface UserErrorDetail {
  /** Path into the mutation's input, e.g. ["lines", "1", "quantity"]; null for the input as a whole. */
  field: string[] | null;
  message: string;
  code: UserErrorCode;
}

/**
 * The most userErrors one answer lists, the first ones found (in the input's order): as many as a
 * basket has lines (MAX_BASKET_LINES), so a checkout learns every line that is short at once. A
 * request of thousands of bad list items (several entries each) would otherwise get an answer
 * many times its own size; a client fixes the first 200 and learns of the rest next.
 */
export const MAX_USER_ERRORS = 200;

/**
 * An expected failure of a business rule. Services throw it inside their transaction, so the
 * transaction rolls back and nothing changes; the GraphQL layer turns it into `userErrors`.
 */
export class DomainError extends Error {
  readonly userErrors: UserErrorDetail[];

  /** Keeps the first MAX_USER_ERRORS of `userErrors`. */
  constructor(userErrors: UserErrorDetail[]) {
    const listed = userErrors.slice(0, MAX_USER_ERRORS);
    const unlisted = userErrors.length - listed.length;
    super(listed.map((e) => e.message).join('; ') + (unlisted > 0 ? `; and ${unlisted} more` : ''));
    this.name = 'DomainError';
    this.userErrors = listed;
  }

  static of(code: UserErrorCode, message: string, field?: FieldPath): DomainError {
    return new DomainError([userError(code, message, field)]);
  }
}

/**
 * A start the operator must fix (a DATA_DIR in use, ...): its message says how, and a stack trace
 * after it would only bury that.
 */
export class SetupError extends Error {
  override name = 'SetupError';
}

/**
 * The cause alone, when an error is the operator's to fix: a SetupError; the system refusing an
 * address, a port or a file (ECONNREFUSED, EADDRINUSE, EACCES ...); PostgreSQL refusing the
 * connection, the password or the database (SQLSTATE classes 08, 28 and 3D). Undefined for
 * anything else, which would be a defect, and whose stack trace is then worth printing.
 */
export function setupProblem(error: unknown): string | undefined {
  if (error instanceof SetupError) return error.message;
  const code = (error as { code?: unknown } | null)?.code;
  if (error instanceof Error && typeof code === 'string' && (/^E[A-Z]+$/.test(code) || /^(08|28|3D)/.test(code))) return `${error.message} (${code})`;
  return undefined;
}

export function userError(code: UserErrorCode, message: string, field?: FieldPath): UserErrorDetail {
  return { code, message: shortenQuoted(message), field: field ? field.map(String) : null };
}

/**
 * A message quotes what it refuses ("x" is not a GTIN), and what it refuses may be as long as a
 * request allows: a client sent 100 kB needs the first words of it back, not all of it, in every
 * error (and every log line of it). Longer quoted values keep their first 60 characters.
 */
export function shortenQuoted(message: string): string {
  const shortened = message.replace(/"([^"]{60})[^"]{21,}"/gu, '"$1…"');
  // A value with a quote of its own in it ends the match early, and the rest of it stays whole:
  // whatever is still too long keeps its beginning and its end (what the message says of it).
  const chars = shortened.length <= MAX_MESSAGE ? [] : [...shortened];
  return chars.length <= MAX_MESSAGE ? shortened : `${chars.slice(0, MAX_MESSAGE / 2).join('')}…${chars.slice(-MAX_MESSAGE / 2).join('')}`;
}

const MAX_MESSAGE = 600;

/** Collects every problem with an input, so a client learns all of them in one round trip. */
export class InputErrors {
  private readonly errors: UserErrorDetail[] = [];

  add(code: UserErrorCode, message: string, field?: FieldPath): void {
    this.errors.push(userError(code, message, field));
  }

  invalid(message: string, field: FieldPath): void {
    this.add(UserErrorCode.INVALID_INPUT, message, field);
  }

  get isEmpty(): boolean {
    return this.errors.length === 0;
  }

  throwIfAny(): void {
    if (!this.isEmpty) throw new DomainError([...this.errors]);
  }
}
