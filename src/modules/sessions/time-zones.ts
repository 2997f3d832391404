import type { EntityManager } from '@mikro-orm/postgresql';
import { IANAZone } from 'luxon';
import { sql } from '../../shared/sql.js';

let databaseNames: Promise<Set<string>> | undefined;

/**
 * Whether `name` is a time zone that luxon and PostgreSQL both know by that name: an IANA name.
 * Luxon (ICU) also takes legacy abbreviations that are no IANA names and stand for one zone among
 * several ("BST" is Bangladesh to it, not British Summer Time; "IST" is India, and Israel to
 * PostgreSQL), and names tzdata has dropped ("US/Pacific-New"), which PostgreSQL refuses. The
 * names PostgreSQL knows are read once per process (`pg_timezone_names` reads its zone files).
 */
export async function isKnownTimeZone(em: EntityManager, name: string): Promise<boolean> {
  if (!IANAZone.isValidZone(name)) return false;
  databaseNames ??= sql<{ name: string }>(em, 'SELECT name FROM pg_timezone_names').then(
    (rows) => new Set(rows.map((row) => row.name.toLowerCase())),
    (error: unknown) => {
      databaseNames = undefined;
      throw error;
    },
  );
  return (await databaseNames).has(name.toLowerCase());
}
