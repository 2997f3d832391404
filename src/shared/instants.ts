import { DateTime } from 'luxon';

/** Kiribati's +14:00 and Baker Island's -12:00 are the widest offsets of any zone today. */
export const MAX_OFFSET_MINUTES = 14 * 60;

/**
 * The instant in its zone, or in UTC where ISO 8601 cannot write it there so that it reads back as
 * the same instant: before about 1900 zones kept local mean time, an offset with seconds
 * (Paris +00:09:21) that an offset of hours and minutes would shift, or beyond the ±14:00 this
 * API reads (Guam -14:21 until 1844); and near the ends of the years 0001–9999, the local year may
 * fall outside them.
 */
function inItsZoneIfWritable(value: DateTime): DateTime {
  const writable = Number.isInteger(value.offset) && Math.abs(value.offset) <= MAX_OFFSET_MINUTES && value.year >= 1 && value.year <= 9999;
  return writable ? value : value.toUTC();
}

/**
 * An instant as the API writes it (the DateTime scalar): ISO 8601 in its zone (a Date's in `zone`)
 * where it can be written there.
 */
export function writeInstant(at: Date | DateTime, zone = 'utc'): string {
  return inItsZoneIfWritable(at instanceof Date ? DateTime.fromJSDate(at, { zone }) : at).toISO({ suppressMilliseconds: true })!;
}
