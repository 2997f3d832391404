import type { EntityManager } from '@mikro-orm/postgresql';
import { IANAZone } from 'luxon';
import { sql } from '../../shared/sql.js';

/** PostgreSQL's time zone names by their lower case. */
let databaseNames: Promise<Map<string, string>> | undefined;

/**
 * The time zone `name` stands for, spelt as PostgreSQL spells it ("europe/paris" is
 * "Europe/Paris"), when luxon and PostgreSQL both know it by that name: an IANA name. Undefined
 * otherwise. Luxon (ICU) also takes legacy abbreviations that are no IANA names and stand for one
 * zone among several ("BST" is Bangladesh to it, not British Summer Time; "IST" is India, and
 * Israel to PostgreSQL), and names tzdata has dropped ("US/Pacific-New"), which PostgreSQL
 * refuses. The names PostgreSQL knows are read once per process (`pg_timezone_names` reads its
 * zone files).
 */
export async function canonicalTimeZone(em: EntityManager, name: string): Promise<string | undefined> {
  if (!IANAZone.isValidZone(name)) return undefined;
  databaseNames ??= sql<{ name: string }>(em, 'SELECT name FROM pg_timezone_names').then(
    (rows) => new Map(rows.map((row) => [row.name.toLowerCase(), row.name])),
    (error: unknown) => {
      databaseNames = undefined;
      throw error;
    },
  );
  return (await databaseNames).get(name.toLowerCase());
}
