// Operators: compares every stock level with its ledger and with the orders holding it.
// Exits 0 when everything agrees, 1 (listing the products) when anything drifted.
//   npm run check:stock            (DATABASE_URL, or the embedded PostgreSQL: a running server's, or started for the check)
import { loadConfig } from '../src/config/config.js';
import { provideDatabase } from '../src/db/database.js';
import { openOrm } from '../src/db/orm.js';
import { priorityFirst } from '../src/modules/stock/location-strategy.js';
import { StockService } from '../src/modules/stock/stock.service.js';
import { createLogger } from '../src/shared/logger.js';

const config = loadConfig();
const logger = createLogger('warn');
const database = await provideDatabase(config, logger, 'share');
const orm = await openOrm({ url: database.url, poolSize: 2 });
try {
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
} finally {
  await orm.close();
  await database.stop();
}
