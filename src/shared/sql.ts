import { DateTime } from 'luxon';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isUuid } from './ids.js';

/**
 * Runs SQL on the entity manager's connection, inside its transaction when it has one.
 * Placeholders are `?` (knex); pass lists with uuidArray() or as JSON, never as JS arrays
 * (knex would expand them into separate parameters).
 */
export function sql<T = Record<string, unknown>>(em: EntityManager, query: string, params: unknown[] = []): Promise<T[]> {
  return em.execute<T[]>(query, params as never[], 'all');
}

/** A PostgreSQL array literal of UUIDs, for `?::uuid[]`. Only valid UUIDs reach it, so nothing needs quoting. */
export function uuidArray(ids: Iterable<string>): string {
  const list = [...ids];
  for (const id of list) if (!isUuid(id)) throw new Error(`not a UUID: ${id}`);
  return `{${list.join(',')}}`;
}

/**
 * A timestamptz read with sql(): MikroORM has the pg driver return timestamps as text (to avoid
 * the driver's own time-zone handling), so raw rows carry strings like "2026-11-27 17:00:00+00".
 */
export function instant(value: Date | string): Date;
export function instant(value: Date | string | null): Date | null;
export function instant(value: Date | string | null): Date | null {
  if (value === null || value instanceof Date) return value;
  const parsed = DateTime.fromSQL(value, { setZone: true });
  if (!parsed.isValid) throw new Error(`unreadable timestamp from PostgreSQL: ${value}`);
  return parsed.toJSDate();
}
