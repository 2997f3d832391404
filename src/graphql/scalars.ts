import { GraphQLError, GraphQLID, GraphQLScalarType, Kind } from 'graphql';
import { DateTime } from 'luxon';
import { canonicalId } from '../shared/ids.js';
import { MAX_OFFSET_MINUTES, writeInstant } from '../shared/instants.js';
import { formatQuantity } from '../shared/quantity.js';

/** A time of day and then an offset, at the end: "T18:00:00+01:00", "T17:00Z". A date's "-27" is not an offset. */
const TIME_WITH_OFFSET_AT_END = /T\d{2}(:?\d{2}(:?\d{2}([.,]\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)$/i;

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } });
}

function parseInstant(value: unknown): Date {
  if (typeof value !== 'string') throw badInput('DateTime must be an ISO 8601 string with an offset');
  const parsed = DateTime.fromISO(value, { setZone: true });
  // Without a time and an offset the instant would depend on the server's zone: refuse rather than guess.
  if (!parsed.isValid || !TIME_WITH_OFFSET_AT_END.test(value)) {
    throw badInput(`"${value}" is not an ISO 8601 date-time with an offset, e.g. "2026-11-27T18:00:00+01:00"`);
  }
  // PostgreSQL's timestamptz ends at year 294276 and its ISO output at 9999: keep to the years
  // every part of the system can store and write back.
  const year = parsed.toUTC().year;
  if (year < 1 || year > 9999) throw badInput(`"${value}" is outside the years 0001 to 9999`);
  // No zone is more than 14 hours from UTC: "+25:00" is a typo, read as it stands a day off.
  if (Math.abs(parsed.offset) > MAX_OFFSET_MINUTES) throw badInput(`"${value}" has an offset beyond ±14:00, which no time zone uses today`);
  // Instants are kept to the millisecond: digits beyond are dropped (".123456" is ".123").
  return parsed.toJSDate();
}

/**
 * GraphQL's ID, read in its canonical spelling (shared/ids.ts): every argument and input field of
 * type ID reaches resolvers and services lower-cased, so no service has to remember to. It takes
 * the place of the built-in ID under the same name; the schema and its clients see no difference.
 */
export const IdScalar = new GraphQLScalarType<string, string>({
  ...GraphQLID.toConfig(),
  parseValue: (value) => canonicalId(GraphQLID.parseValue(value) as string),
  parseLiteral: (ast, variables) => canonicalId(GraphQLID.parseLiteral(ast, variables) as string),
});

/**
 * An instant, written as ISO 8601 with an offset. Resolvers may return a luxon DateTime to show
 * the instant in a particular zone (a session's times in the session's zone), or a Date for UTC.
 */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An instant as ISO 8601 with an offset (at most ±14:00), e.g. "2026-11-27T18:00:00+01:00", in the years 0001 to 9999; kept to the millisecond.',
  serialize(value) {
    if (value instanceof Date || (DateTime.isDateTime(value) && value.isValid)) return writeInstant(value);
    throw new GraphQLError('DateTime cannot represent this value');
  },
  parseValue: parseInstant,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) throw badInput('DateTime must be a string');
    return parseInstant(ast.value);
  },
});

/**
 * An exact decimal, as a string ("2.5"). Input is passed through as text: the services check it
 * (sign, precision, size) so that a bad value becomes a `userErrors` entry naming its field.
 * Integers are accepted as JSON numbers too; fractional JSON numbers are refused, being floats.
 */
export const DecimalScalar = new GraphQLScalarType<string, string>({
  name: 'Decimal',
  description: 'An exact decimal number written as a string, e.g. "2.5". Never a float.',
  serialize(value) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') {
      return formatQuantity(String(value));
    }
    if (value !== null && typeof value === 'object' && 'toFixed' in value) return formatQuantity(String(value));
    throw new GraphQLError('Decimal cannot represent this value');
  },
  parseValue(value) {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
    throw badInput('Decimal values are strings, e.g. "2.5" (floats are not accepted)');
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.STRING || ast.kind === Kind.INT) return ast.value;
    throw badInput('Decimal values are strings, e.g. "2.5" (floats are not accepted)');
  },
});
