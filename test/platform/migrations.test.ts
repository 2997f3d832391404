import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { createDatabaseIfMissing } from '../../src/db/database.js';
import { migrate, openOrm } from '../../src/db/orm.js';
import { migrationsList } from '../../migrations/index.js';
import { waitFor, waitForLockWait } from '../support/wait.js';

const JEAN = '00000000-0000-4000-8000-000000000001';
const CARROTS = '00000000-0000-4000-8000-000000000002';
/** A producer and its product, as any release has them. */
const JEAN_AND_CARROTS = `
  INSERT INTO producer (id, name) VALUES ('${JEAN}', 'Jean');
  INSERT INTO product (id, producer_id, name, sku, unit) VALUES ('${CARROTS}', '${JEAN}', 'Carrots', 'C', 'kg');`;

/** A fresh, empty database for `run` to migrate step by step; its connections are closed after. */
async function upgrade(run: (orm: Awaited<ReturnType<typeof openOrm>>, db: pg.Pool, url: string) => Promise<void>, options: { statementTimeoutMs?: number } = {}): Promise<void> {
  const adminUrl = inject('adminUrl');
  const name = `upgrade_${randomBytes(4).toString('hex')}`;
  await createDatabaseIfMissing(adminUrl, name);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const orm = await openOrm({ url: url.toString(), poolSize: 2, ...options });
  const db = new pg.Pool({ connectionString: url.toString(), max: 2 });
  try {
    await run(orm, db, url.toString());
  } finally {
    await db.end();
    await orm.close();
  }
}

describe('migrations', () => {
  it('run without the statement timeout meant for requests, so a long index build does not roll the upgrade back', async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261125140000' });
      // The next migration builds an index on webhook_delivery: a writer there makes it wait,
      // as a large table would make it run, for longer than the requests' 1 s.
      const writer = await db.connect();
      try {
        await writer.query('BEGIN');
        await writer.query('LOCK TABLE webhook_delivery IN ROW EXCLUSIVE MODE');
        const migrated = migrate(orm);
        await waitForLockWait(db, 'the index build to wait');
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        await writer.query('COMMIT');
        await migrated;
      } finally {
        writer.release();
      }
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM mikro_orm_migrations');
      expect(rows[0]!.n).toBe(migrationsList.length);
      // Requests keep it.
      await expect(orm.em.fork().execute('SELECT pg_sleep(1.2)')).rejects.toThrow(/statement timeout/);
    }, { statementTimeoutMs: 1_000 });
  });

  it('run once when replicas start together on an empty database: the second finds nothing left to do', async () => {
    await upgrade(async (orm, db) => {
      // Whatever isolation the database's transactions default to.
      await db.query(`ALTER DATABASE ${(await db.query<{ name: string }>('SELECT current_database() AS name')).rows[0]!.name} SET default_transaction_isolation = 'repeatable read'`);
      expect((await Promise.allSettled([migrate(orm), migrate(orm), migrate(orm)])).map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
      const { rows } = await db.query<{ n: number; names: number }>('SELECT count(*)::int AS n, count(DISTINCT name)::int AS names FROM mikro_orm_migrations');
      expect(rows[0]).toEqual({ n: migrationsList.length, names: migrationsList.length });
    });
  });

  it('roll back when the connection holding the migration lock is cut, and leave them whole to the next replica', async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261125140000' });
      const writer = await db.connect();
      let first: PromiseSettledResult<void> | undefined;
      try {
        await writer.query('BEGIN');
        await writer.query('LOCK TABLE webhook_delivery IN ROW EXCLUSIVE MODE');
        const migrating = Promise.allSettled([migrate(orm)]);
        await waitForLockWait(db, 'the index build to wait');
        const { rows: [lock] } = await db.query<{ pid: number }>(
          "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        );
        await db.query('SELECT pg_terminate_backend($1)', [lock!.pid]);
        // The lock is free: a second replica starting now takes it, and waits for the writer as the first did.
        const second = migrate(orm);
        await waitForLockWait(db, "the second replica's index build to wait");
        await writer.query('COMMIT');
        [first] = await migrating;
        await second;
      } finally {
        writer.release();
      }
      // The first start fails (its supervisor starts it again); nothing of it stands beside the second's work.
      expect(first?.status).toBe('rejected');
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM mikro_orm_migrations');
      expect(rows[0]!.n).toBe(migrationsList.length);
    });
  });

  it('read committed on every pooled connection, whatever isolation the database defaults to', async () => {
    await upgrade(async (orm, db) => {
      await db.query(`ALTER DATABASE ${(await db.query<{ name: string }>('SELECT current_database() AS name')).rows[0]!.name} SET default_transaction_isolation = 'serializable'`);
      const fresh = await openOrm({ url: orm.config.get('clientUrl')!, poolSize: 1 });
      try {
        const [row] = await fresh.em.fork().execute<{ transaction_isolation: string }[]>('SHOW transaction_isolation');
        expect(row!.transaction_isolation).toBe('read committed');
      } finally {
        await fresh.close();
      }
    });
  });

  it("connect the pool with the URL's own parameters, as the other connections do (sslmode)", async () => {
    // The test cluster has no TLS: a URL that requires it must be refused, not connected in clear.
    const url = new URL(inject('adminUrl'));
    url.searchParams.set('sslmode', 'require');
    const orm = await openOrm({ url: url.toString(), poolSize: 1, acquireTimeoutMs: 2000 });
    try {
      await expect(orm.em.fork().execute('SELECT 1')).rejects.toThrow(/does not support SSL/);
    } finally {
      await orm.close();
    }
  });

  it('build exactly the schema the entities describe, so npm run migration:create finds nothing to add', async () => {
    await upgrade(async (orm) => {
      await migrate(orm);
      expect(await orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false })).toBe('');
    });
  });

  it('move existing stock into each producer\'s first location, so a pilot upgrades without losing any', async () => {
    await upgrade(async (orm, db) => {
      // The database as the release before stock locations left it, with a producer's stock in it.
      await orm.getMigrator().up({ to: 'Migration20261123193322' });
      await db.query(`${JEAN_AND_CARROTS}
        INSERT INTO stock_level (product_id, on_hand, held) VALUES ('${CARROTS}', 10, 3);
        INSERT INTO stock_movement (product_id, kind, on_hand_delta, created_at) VALUES ('${CARROTS}', 'ADJUST', 10, now());
        INSERT INTO stock_movement (product_id, kind, held_delta, created_at) VALUES ('${CARROTS}', 'HOLD', 3, now());`);

      await orm.getMigrator().up();

      const { rows: levels } = await db.query(
        'SELECT l.name, l.priority, s.on_hand::text, s.held::text FROM stock_level s JOIN location l ON l.id = s.location_id',
      );
      expect(levels).toEqual([{ name: 'Main', priority: 1, on_hand: '10.000', held: '3.000' }]);
      const { rows: ledger } = await db.query(
        `SELECT count(*)::int AS n FROM stock_movement m JOIN stock_level s ON s.product_id = m.product_id AND s.location_id = m.location_id`,
      );
      expect(ledger[0].n).toBe(2);
    });
  });

  it('find the indexes an operator built beforehand without blocking (README, Upgrading)', async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261124030000' });
      await db.query('CREATE INDEX CONCURRENTLY IF NOT EXISTS domain_event_created_at_index ON domain_event (created_at)');
      await db.query("CREATE INDEX CONCURRENTLY IF NOT EXISTS webhook_delivery_delivered_created_at ON webhook_delivery (created_at) WHERE status = 'DELIVERED'");
      // The key table itself came later: its index is built once the table is there.
      await orm.getMigrator().up({ to: 'Migration20261124050833' });
      await db.query('CREATE INDEX CONCURRENTLY IF NOT EXISTS idempotency_key_created_at_index ON idempotency_key (created_at)');
      await db.query('CREATE INDEX CONCURRENTLY IF NOT EXISTS producer_order_hub_created ON producer_order (hub_id, created_at, id)');
      await db.query('CREATE INDEX CONCURRENTLY IF NOT EXISTS producer_order_producer_created ON producer_order (producer_id, created_at, id)');
      // Migration20261125081324's index is on a column it adds: the column first, then the index.
      await orm.getMigrator().up({ to: 'Migration20261125075122' });
      await db.query('ALTER TABLE domain_event ADD COLUMN IF NOT EXISTS sales_session_id uuid');
      await db.query('CREATE INDEX CONCURRENTLY IF NOT EXISTS domain_event_offer_changes ON domain_event (sales_session_id, position) WHERE sales_session_id IS NOT NULL');

      await orm.getMigrator().up();

      const { rows } = await db.query(
        `SELECT indexname FROM pg_indexes WHERE indexname IN ('domain_event_created_at_index', 'webhook_delivery_delivered_created_at', 'idempotency_key_created_at_index',
                'producer_order_hub_created', 'producer_order_producer_created', 'producer_order_producer_id_index', 'domain_event_offer_changes') ORDER BY 1`,
      );
      expect(rows.map((r) => r.indexname)).toEqual([
        'domain_event_created_at_index', 'domain_event_offer_changes', 'idempotency_key_created_at_index', 'producer_order_hub_created', 'producer_order_producer_created',
        'webhook_delivery_delivered_created_at',
      ]);
      expect(await orm.getMigrator().getPendingMigrations()).toEqual([]);
    });
  });

  it('move the stock writes\' idempotency keys into the shared table with their request hashes, so a retry sent across the upgrade still replays', async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261124031425' });
      await db.query(`${JEAN_AND_CARROTS}
        INSERT INTO stock_idempotency_key (producer_id, idempotency_key, request_hash, kind, product_id, created_at)
        VALUES ('${JEAN}', 'harvest-2c91', '${'a'.repeat(64)}', 'ADJUST', '${CARROTS}', '2026-11-24T03:00:00Z');`);

      await orm.getMigrator().up();

      const { rows } = await db.query(
        'SELECT scope, idempotency_key, kind, request_hash, result_id, created_at::text FROM idempotency_key',
      );
      expect(rows).toEqual([{
        scope: `producer:${JEAN}`,
        idempotency_key: 'harvest-2c91',
        kind: 'ADJUST',
        request_hash: 'a'.repeat(64),
        result_id: CARROTS,
        created_at: '2026-11-24 03:00:00+00',
      }]);
      const { rows: [old] } = await db.query("SELECT to_regclass('stock_idempotency_key') AS t");
      expect(old.t).toBeNull();
    });
  });

  it('number the existing stock levels in the order they were locked in, and new ones after them', async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261124220446' });
      // Three locations whose ids sort otherwise than they were created, and a level at each.
      const ids = ['00000000-0000-4000-8000-0000000000c3', '00000000-0000-4000-8000-0000000000a1', '00000000-0000-4000-8000-0000000000b2'];
      await db.query(`${JEAN_AND_CARROTS}
        INSERT INTO location (id, producer_id, name, priority) VALUES ${ids.map((id, i) => `('${id}', '${JEAN}', 'L${i}', ${i + 1})`).join(', ')};
        INSERT INTO stock_level (product_id, location_id) SELECT '${CARROTS}', id FROM location;`);

      await orm.getMigrator().up();

      const byLockOrder = async () =>
        (await db.query<{ location_id: string }>('SELECT location_id FROM stock_level WHERE product_id = $1 ORDER BY lock_seq', [CARROTS])).rows.map((r) => r.location_id);
      // As a previous version's replica still locks them: by location id.
      expect(await byLockOrder()).toEqual([...ids].sort());
      // A level created afterwards comes last, whatever its location's id.
      const first = '00000000-0000-4000-8000-000000000000';
      await db.query(`INSERT INTO location (id, producer_id, name, priority) VALUES ('${first}', '${JEAN}', 'New', 4);
        INSERT INTO stock_level (product_id, location_id) VALUES ('${CARROTS}', '${first}');`);
      expect(await byLockOrder()).toEqual([...[...ids].sort(), first]);
    });
  });

  it("widen the events' quantities without rewriting the event log, and keep what it holds", async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261124230000' });
      await db.query(`${JEAN_AND_CARROTS}
        INSERT INTO domain_event (kind, producer_id, product_id, quantity, available, created_at, position)
        VALUES ('ADJUSTED', '${JEAN}', '${CARROTS}', 999999999999.999, 999999999999.999, now(), 1);`);
      const storage = async () => (await db.query<{ file: string }>("SELECT pg_relation_filenode('domain_event')::text AS file")).rows[0]!.file;
      const before = await storage();

      await orm.getMigrator().up();

      expect(await storage()).toBe(before);
      const { rows } = await db.query("SELECT quantity::text, available::text, format_type(a.atttypid, a.atttypmod) AS type FROM domain_event, pg_attribute a WHERE a.attrelid = 'domain_event'::regclass AND a.attname = 'available'");
      expect(rows).toEqual([{ quantity: '999999999999.999', available: '999999999999.999', type: 'numeric(20,3)' }]);
      // Two full levels' availability now fits.
      await db.query("UPDATE domain_event SET available = available * 2");
    });
  });

  it("take every producer already offered in a hub's session to have approved that hub, and no other", async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261125023338' });
      const HUB = '00000000-0000-4000-8000-0000000000e1';
      const OTHER_HUB = '00000000-0000-4000-8000-0000000000e2';
      const SESSION = '00000000-0000-4000-8000-0000000000d1';
      await db.query(`${JEAN_AND_CARROTS}
        INSERT INTO hub (id, name) VALUES ('${HUB}', 'Hub A'), ('${OTHER_HUB}', 'Hub B');
        INSERT INTO sales_session (id, hub_id, opens_at, closes_at, time_zone) VALUES ('${SESSION}', '${HUB}', now(), now() + interval '1 day', 'Europe/Paris');
        INSERT INTO offer (id, sales_session_id, product_id, price_amount, price_currency) VALUES (gen_random_uuid(), '${SESSION}', '${CARROTS}', 300, 'EUR');`);

      await orm.getMigrator().up();

      const { rows } = await db.query('SELECT producer_id, hub_id FROM hub_approval');
      expect(rows).toEqual([{ producer_id: JEAN, hub_id: HUB }]);
    });
  });

  it('widen shipment lines without rewriting them, and keep what they hold', async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261125015248' });
      const storage = async () => (await db.query<{ file: string }>("SELECT pg_relation_filenode('shipment_line')::text AS file")).rows[0]!.file;
      const before = await storage();

      await orm.getMigrator().up();

      expect(await storage()).toBe(before);
      const { rows } = await db.query(
        "SELECT a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a WHERE a.attrelid = 'shipment_line'::regclass AND a.attname IN ('ordered', 'quantity', 'weight_kg') ORDER BY a.attname",
      );
      expect(rows).toEqual(['ordered', 'quantity', 'weight_kg'].map((column) => ({ column, type: 'numeric(20,3)' })));
    });
  });

  it("take the producer's lot, location and available stock out of what hub webhooks were sent and are still to be sent, and leave the producers'", async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261125010250' });
      const HUB = '00000000-0000-4000-8000-0000000000e1';
      const LOT = '00000000-0000-4000-8000-0000000000f1';
      const LOCATION = '00000000-0000-4000-8000-0000000000f2';
      await db.query(`${JEAN_AND_CARROTS}
        INSERT INTO webhook (id, url, kinds, producer_id, hub_id, secret) VALUES
          ('00000000-0000-4000-8000-0000000000a1', 'https://hub.example.org/h', '{LOT_SWAPPED}', null, '${HUB}', 's'),
          ('00000000-0000-4000-8000-0000000000a2', 'https://farm.example.org/h', '{LOT_SWAPPED}', '${JEAN}', null, 's'),
          ('00000000-0000-4000-8000-0000000000a3', 'https://hub.example.org/j', '{LOT_SWAPPED}', '${JEAN}', '${HUB}', 's');`);
      // Bodies as the relay writes them (json_build_object's text), one delivered and one pending each.
      await db.query(`INSERT INTO webhook_delivery (webhook_id, event_position, ordering_key, body, status, next_attempt_at, created_at)
        SELECT w, p, '${CARROTS}', json_build_object('id', p::text, 'kind', 'LOT_SWAPPED', 'hubId', '${HUB}', 'locationId', '${LOCATION}'::uuid, 'lotId', '${LOT}'::uuid, 'quantity', '2', 'available', '8')::text,
               status, now(), now()
          FROM (VALUES ('00000000-0000-4000-8000-0000000000a1'::uuid), ('00000000-0000-4000-8000-0000000000a2'::uuid),
                       ('00000000-0000-4000-8000-0000000000a3'::uuid)) AS ws(w)
         CROSS JOIN (VALUES (1, 'DELIVERED'), (2, 'PENDING')) AS d(p, status)`);

      await orm.getMigrator().up();

      const { rows } = await db.query<{ webhook_id: string; body: string }>('SELECT webhook_id, body FROM webhook_delivery ORDER BY webhook_id, event_position');
      type Body = { lotId: string | null; locationId: string | null; quantity: string; available: string | null };
      const seen = rows.map((r) => ({ webhook: r.webhook_id.slice(-2), ...(JSON.parse(r.body) as Body) }));
      expect(seen.map(({ webhook, lotId, locationId, quantity, available }) => [webhook, lotId, locationId, quantity, available])).toEqual([
        ['a1', null, null, '2', null], ['a1', null, null, '2', null],
        ['a2', LOT, LOCATION, '2', '8'], ['a2', LOT, LOCATION, '2', '8'],
        // Scoped to the hub and one producer (the operator's narrowing): the hub's all the same.
        ['a3', null, null, '2', null], ['a3', null, null, '2', null],
      ]);
    });
  });

  it('work out how far retention had already forgotten the event log, from the gaps it left', async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261125170000' });
      // Positions 1–3 and 6 were forgotten (an event kept for a pending webhook at 4 and 5), 9 is the newest.
      await db.query(`${JEAN_AND_CARROTS}
        INSERT INTO domain_event (kind, producer_id, product_id, quantity, available, created_at, position)
        SELECT 'ADJUSTED', '${JEAN}', '${CARROTS}', 1, 1, now(), p FROM unnest(ARRAY[4, 5, 7, 8, 9]) AS p;`);
      await orm.getMigrator().up();
      // Whose those were is not known (Migration20261125220000): every stream counts them.
      expect((await db.query('SELECT id, through_position::int, unattributed_through::int FROM pruned_events')).rows).toEqual([{ id: 1, through_position: 6, unattributed_through: 6 }]);
    });
    // A log that has forgotten nothing, or is empty.
    for (const positions of ['1, 2, 3', '']) {
      await upgrade(async (orm, db) => {
        await orm.getMigrator().up({ to: 'Migration20261125170000' });
        await db.query(`${JEAN_AND_CARROTS}
          INSERT INTO domain_event (kind, producer_id, product_id, quantity, available, created_at, position)
          SELECT 'ADJUSTED', '${JEAN}', '${CARROTS}', 1, 1, now(), p FROM unnest(ARRAY[${positions}]::bigint[]) AS p;`);
        await orm.getMigrator().up();
        expect((await db.query('SELECT through_position::int FROM pruned_events')).rows).toEqual([{ through_position: 0 }]);
      });
    }
  });

  it("number each basket changed before the upgrade with its chain's first checkout's arrival", async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261125190000' });
      const HUB = '00000000-0000-4000-8000-0000000000e1';
      const SESSION = '00000000-0000-4000-8000-0000000000d1';
      // Ann's basket changed twice (a1 → a2 → a3), Bob's never, Cid's twice but first placed
      // before arrivals were numbered (c1 has none).
      const order = (name: string) => `00000000-0000-4000-8000-0000000001${name}`;
      await db.query(`${JEAN_AND_CARROTS}
        INSERT INTO hub (id, name) VALUES ('${HUB}', 'Hub A');
        INSERT INTO sales_session (id, hub_id, opens_at, closes_at, time_zone) VALUES ('${SESSION}', '${HUB}', now(), now() + interval '1 day', 'Europe/Paris');
        INSERT INTO customer_order (id, sales_session_id, hub_id, customer_ref, status, idempotency_key, request_hash, arrival_seq, replaced_by_id, hold_started_at)
        VALUES ('${order('a3')}', '${SESSION}', '${HUB}', 'ann', 'CONFIRMED', 'a3', 'h', 30, null, now()),
               ('${order('a2')}', '${SESSION}', '${HUB}', 'ann', 'CANCELLED', 'a2', 'h', 20, '${order('a3')}', now()),
               ('${order('a1')}', '${SESSION}', '${HUB}', 'ann', 'CANCELLED', 'a1', 'h', 10, '${order('a2')}', null),
               ('${order('b1')}', '${SESSION}', '${HUB}', 'bob', 'CONFIRMED', 'b1', 'h', 15, null, null),
               ('${order('c3')}', '${SESSION}', '${HUB}', 'cid', 'CONFIRMED', 'c3', 'h', 50, null, now()),
               ('${order('c2')}', '${SESSION}', '${HUB}', 'cid', 'CANCELLED', 'c2', 'h', 40, '${order('c3')}', now()),
               ('${order('c1')}', '${SESSION}', '${HUB}', 'cid', 'CANCELLED', 'c1', 'h', null, '${order('c2')}', null);`);

      await orm.getMigrator().up();

      const { rows } = await db.query("SELECT right(id::text, 2) AS id, first_arrival_seq::int AS first FROM customer_order ORDER BY id");
      expect(rows).toEqual([
        { id: 'a1', first: null }, { id: 'a2', first: 10 }, { id: 'a3', first: 10 },
        // As a change numbers it: the chain's first numbered order (c2's first, c1, has none).
        { id: 'b1', first: null }, { id: 'c1', first: null }, { id: 'c2', first: null }, { id: 'c3', first: 40 },
      ]);
    });
  });

  it('count every session that has stopped selling as having told its storefronts, so the upgrade sends nothing for them', async () => {
    await upgrade(async (orm, db) => {
      await orm.getMigrator().up({ to: 'Migration20261125200000' });
      const HUB = '00000000-0000-4000-8000-0000000000e1';
      const session = (name: string) => `00000000-0000-4000-8000-0000000002${name}`;
      await db.query(`
        INSERT INTO hub (id, name) VALUES ('${HUB}', 'Hub A');
        INSERT INTO sales_session (id, hub_id, opens_at, closes_at, closed_at, time_zone) VALUES
          ('${session('01')}', '${HUB}', now() - interval '2 days', now() - interval '1 day', null, 'Europe/Paris'),
          ('${session('02')}', '${HUB}', now() - interval '2 days', now() + interval '1 day', now() - interval '1 hour', 'Europe/Paris'),
          ('${session('03')}', '${HUB}', now() - interval '2 days', now() + interval '1 day', null, 'Europe/Paris');`);

      await orm.getMigrator().up();

      const { rows } = await db.query(`SELECT right(id::text, 2) AS id, close_announced_at = coalesce(closed_at, closes_at) AS told
                                         FROM sales_session ORDER BY id`);
      // Closed at its closesAt, closed early: told. Still selling: the scheduler tells it at its close.
      expect(rows).toEqual([{ id: '01', told: true }, { id: '02', told: true }, { id: '03', told: null }]);
    });
  });

  it("do not deadlock with a previous-version replica's retention pass running as they install the trigger that records forgotten events", async () => {
    // The previous release's (f099b8b) retention statement: domain_event (its DELETE), then pruned_events.
    const OLD_PASS = `WITH gone AS (DELETE FROM domain_event WHERE ctid = ANY(ARRAY(
         SELECT e.ctid FROM domain_event e
          WHERE e.position IS NOT NULL AND e.created_at < now() AND e.position < (SELECT max(position) FROM domain_event)
            AND NOT EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.event_position = e.position AND d.status = 'PENDING') LIMIT 5000))
       RETURNING position),
     alongside AS (UPDATE pruned_events SET through_position = greatest(through_position, (SELECT max(position) FROM gone)) WHERE EXISTS (SELECT 1 FROM gone))
     SELECT count(*)::int AS deleted FROM gone`;
    await upgrade(async (orm, db, url) => {
      await orm.getMigrator().up({ to: 'Migration20261125210000' });
      await db.query(`${JEAN_AND_CARROTS}
        INSERT INTO domain_event (kind, producer_id, product_id, quantity, available, created_at, position)
        SELECT 'ADJUSTED', '${JEAN}', '${CARROTS}', 1, 1, now() - interval '10 days', p FROM generate_series(1, 10) p;`);
      const more = new pg.Pool({ connectionString: url, max: 2 });
      try {
        // The old statement holds domain_event and waits for webhook_delivery (held elsewhere a
        // moment): the upgrade starts meanwhile.
        const holder = await more.connect();
        await holder.query('BEGIN');
        await holder.query('LOCK TABLE webhook_delivery IN ACCESS EXCLUSIVE MODE');
        const oldPass = more.query(OLD_PASS);
        await waitForLockWait(db, "the old replica's pass to wait");
        const migrated = migrate(orm);
        await waitFor('the upgrade to wait for the old pass', async () =>
          ((await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")).rows[0].n >= 2 ? true : undefined));
        await holder.query('COMMIT');
        holder.release();
        const outcome = await Promise.allSettled([oldPass, migrated]);
        expect(outcome.map((o) => (o.status === 'rejected' ? String((o.reason as Error).message) : 'ok'))).toEqual(['ok', 'ok']);
        // What the old pass forgot before the trigger existed is in the whole log's mark.
        expect((await db.query('SELECT through_position::int, unattributed_through::int FROM pruned_events')).rows).toEqual([{ through_position: 9, unattributed_through: 9 }]);
      } finally {
        await more.end();
      }
    });
  });
});
