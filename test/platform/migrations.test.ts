import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { createDatabaseIfMissing } from '../../src/db/database.js';
import { openOrm } from '../../src/db/orm.js';

describe('migrations', () => {
  it('move existing stock into each producer\'s first location, so a pilot upgrades without losing any', async () => {
    const adminUrl = inject('adminUrl');
    const name = `upgrade_${randomBytes(4).toString('hex')}`;
    await createDatabaseIfMissing(adminUrl, name);
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const orm = await openOrm({ url: url.toString(), poolSize: 2 });
    const db = new pg.Pool({ connectionString: url.toString(), max: 2 });
    try {
      // The database as the release before stock locations left it, with a producer's stock in it.
      await orm.getMigrator().up({ to: 'Migration20261123193322' });
      await db.query(`
        INSERT INTO producer (id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'Jean');
        INSERT INTO product (id, producer_id, name, sku, unit) VALUES ('00000000-0000-4000-8000-000000000002', '00000000-0000-4000-8000-000000000001', 'Carrots', 'C', 'kg');
        INSERT INTO stock_level (product_id, on_hand, held) VALUES ('00000000-0000-4000-8000-000000000002', 10, 3);
        INSERT INTO stock_movement (product_id, kind, on_hand_delta, created_at) VALUES ('00000000-0000-4000-8000-000000000002', 'ADJUST', 10, now());
        INSERT INTO stock_movement (product_id, kind, held_delta, created_at) VALUES ('00000000-0000-4000-8000-000000000002', 'HOLD', 3, now());`);

      await orm.getMigrator().up();

      const { rows: levels } = await db.query(
        'SELECT l.name, l.priority, s.on_hand::text, s.held::text FROM stock_level s JOIN location l ON l.id = s.location_id',
      );
      expect(levels).toEqual([{ name: 'Main', priority: 1, on_hand: '10.000', held: '3.000' }]);
      const { rows: ledger } = await db.query(
        `SELECT count(*)::int AS n FROM stock_movement m JOIN stock_level s ON s.product_id = m.product_id AND s.location_id = m.location_id`,
      );
      expect(ledger[0].n).toBe(2);
    } finally {
      await db.end();
      await orm.close();
    }
  });
});
