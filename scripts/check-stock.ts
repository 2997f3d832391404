// Operators: compares every stock level with its ledger and with the orders holding it, and
// every capped offer's count with the orders holding it.
// Exits 0 when everything agrees, 1 (listing the products) when anything drifted, 2 when the
// database is not a foodhub database (the wrong DATA_DIR or DATABASE_URL), or not yet migrated to
// this version.
//   npm run check:stock            (DATABASE_URL, or the embedded PostgreSQL: a running server's, or started for the check)
import { existsSync } from 'node:fs';
import type { MikroORM } from '@mikro-orm/postgresql';
import { resolve } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { provideDatabase } from '../src/db/database.js';
import { openOrm } from '../src/db/orm.js';
import { capDrift, cappedOfferCount } from '../src/modules/sessions/offer-caps.js';
import { priorityFirst } from '../src/modules/stock/location-strategy.js';
import { StockService } from '../src/modules/stock/stock.service.js';
import { setupProblem } from '../src/shared/errors.js';
import { createLogger } from '../src/shared/logger.js';

const config = loadConfig();
const logger = createLogger('warn');
// A DATA_DIR with no PostgreSQL in it is the wrong one: say so, rather than create an empty
// cluster there that the next look at it would take for a server's.
const embeddedData = resolve(config.dataDir, 'postgres');
if (!config.databaseUrl && !existsSync(resolve(embeddedData, 'PG_VERSION'))) {
  process.stderr.write(`stock: no embedded PostgreSQL in ${embeddedData}: set DATA_DIR to the server's (or DATABASE_URL)\n`);
  process.exit(2);
}
const database = await provideDatabase(config, logger, 'share');
try {
  await checkDatabase();
} catch (error) {
  // A database it cannot reach or log in to is the wrong DATABASE_URL (or one that is down): the
  // operator's to fix, said in a line, and not taken for drift.
  const problem = setupProblem(error);
  if (problem === undefined) throw error;
  process.stderr.write(`stock: cannot use the database at ${redacted(database.url)}: ${problem}\n`);
  process.exitCode = 2;
} finally {
  await database.stop();
}

async function checkDatabase(): Promise<void> {
  const orm = await openOrm({ url: database.url, poolSize: 2 });
  try {
    await checkIfMigrated(orm);
  } finally {
    await orm.close();
  }
}

/** Checks the stock when the database is a foodhub one; says so, with exit code 2, when not. */
async function checkIfMigrated(orm: MikroORM): Promise<void> {
  const [{ migrated }] = await orm.em.getConnection().execute<{ migrated: boolean }[]>("SELECT to_regclass('stock_level') IS NOT NULL AS migrated");
  if (!migrated) {
    process.stderr.write(`stock: no foodhub database at ${redacted(database.url)}: set DATA_DIR or DATABASE_URL to the server's\n`);
    process.exitCode = 2;
    return;
  }
  // An older release's database (an upgrade under way): this version's queries would read columns
  // it does not have yet. Not drift: said in a line.
  const pending = await orm.getMigrator().getPendingMigrations();
  if (pending.length > 0) {
    process.stderr.write(
      `stock: the database at ${redacted(database.url)} lacks ${pending.length} of this version's migrations (the last: ${pending.at(-1)!.name}): ` +
        "check it with the version its server runs, or start this version's server once (it migrates the database) and check again\n",
    );
    process.exitCode = 2;
    return;
  }
  await check(orm);
}

async function check(orm: MikroORM): Promise<void> {
  const drift = await new StockService(priorityFirst).reconcile(orm.em.fork());
  const { rows } = await orm.em.getConnection().execute('SELECT count(DISTINCT product_id)::int AS n FROM stock_level').then((r) => ({ rows: r as { n: number }[] }));
  const products = (n: number) => `${n} product${n === 1 ? '' : 's'}`;
  if (drift.length === 0) {
    process.stdout.write(`stock: ${products(rows[0]!.n)} checked (each at every location), levels equal the ledger and the orders holding them\n`);
  } else {
    process.stdout.write(`stock: ${drift.length} of ${products(rows[0]!.n)} drifted:\n`);
    for (const d of drift) process.stdout.write(`${JSON.stringify(d)}\n`);
    process.exitCode = 1;
  }
  const caps = await capDrift(orm.em.fork());
  const capped = await cappedOfferCount(orm.em.fork());
  const offers = (n: number) => `${n} capped offer${n === 1 ? '' : 's'}`;
  if (caps.length === 0) {
    process.stdout.write(`caps: ${offers(capped)} checked, each counts what its live orders hold\n`);
  } else {
    process.stdout.write(`caps: ${caps.length} of ${offers(capped)} drifted:\n`);
    for (const d of caps) process.stdout.write(`${JSON.stringify(d)}\n`);
    process.exitCode = 1;
  }
}

/** The URL without its password, to name the database in a message. */
function redacted(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
