// The relay that gives committed events their positions, run by every replica after its commits:
// many at once must still hand out each position once, with no gap, whatever they interleave with.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjustStock, checkout } from '../support/scenarios.js';
import { markEventsWritten } from '../../src/events/event-log.js';
import { createTestDatabase, startTestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';
import { waitFor } from '../support/wait.js';
import { addLocation, buy, closeSessions, createOfferSession, receiveLot, world } from '../fulfilment/support.js';

describe('the event relay', () => {
  let db: pg.Pool;
  beforeAll(async () => {
    db = new pg.Pool({ connectionString: await createTestDatabase(), max: 12 });
  });
  afterAll(() => db.end());

  it('positions every committed event exactly once, in one unbroken sequence, when relays run on many connections at once', async () => {
    const producer = randomUUID();
    const product = randomUUID();
    const insertEvent = () =>
      db.query(
        `INSERT INTO domain_event (kind, producer_id, product_id, quantity, available, created_at) VALUES ('HELD', $1, $2, 1, 0, now())`,
        [producer, product],
      );
    const relay = () => db.query(`SELECT last_position, deliveries FROM position_pending_events(now(), 'relay_test')`);

    // Ten relays race while events keep committing: each relay must read the positions the one
    // before it gave (after waiting for its lock), or two would hand out the same position.
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, async () => {
        for (let round = 0; round < 20; round += 1) {
          await insertEvent();
          await relay();
        }
      }),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    await relay();

    const { rows } = await db.query<{ position: string | null }>('SELECT position::text FROM domain_event WHERE product_id = $1 ORDER BY domain_event.position', [product]);
    expect(rows).toHaveLength(200);
    expect(rows.map((r) => r.position)).toEqual(Array.from({ length: 200 }, (_, i) => String(i + 1)));
  });

  it('reads the positions given by the relay it waited for, not those from before it waited', async () => {
    const producer = randomUUID();
    const product = randomUUID();
    const insert = `INSERT INTO domain_event (kind, producer_id, product_id, quantity, available, created_at) VALUES ('HELD', $1, $2, 1, 0, now()) RETURNING id`;
    const [{ top }] = (await db.query<{ top: string }>('SELECT coalesce(max(position), 0)::text AS top FROM domain_event')).rows as [{ top: string }];
    const first = await db.connect();
    try {
      // One relay holds the lock and positions an event, without committing yet.
      await first.query('BEGIN');
      await first.query('SELECT pg_advisory_xact_lock(7146205332)');
      const { rows: [early] } = await first.query<{ id: string }>(insert, [producer, product]);
      await first.query('UPDATE domain_event SET position = $1::bigint + 1 WHERE id = $2', [top, early!.id]);
      // Another relay starts meanwhile and waits for the lock; one more event commits for it.
      const second = db.query<{ last_position: string }>(`SELECT last_position::text FROM position_pending_events(now(), 'relay_test')`);
      const { rows: [late] } = await db.query<{ id: string }>(insert, [producer, product]);
      let settled = false;
      void second.finally(() => (settled = true)).catch(() => undefined);
      // (A relay that does not wait at all returns early, and fails below.)
      await waitFor('the second relay to wait for the first', async () => {
        const { rowCount } = await db.query(
          'SELECT 1 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()',
        );
        return rowCount || settled ? true : undefined;
      });
      await first.query('COMMIT');
      // Had it kept the snapshot from before it waited, it would reuse the first relay's position.
      const { rows } = await second;
      expect(rows[0]!.last_position).toBe(String(BigInt(top) + 2n));
      const positions = await db.query<{ id: string; position: string }>('SELECT id::text, position::text FROM domain_event WHERE product_id = $1', [product]);
      expect(Object.fromEntries(positions.rows.map((r) => [r.id, r.position]))).toEqual({
        [early!.id]: String(BigInt(top) + 1n),
        [late!.id]: String(BigInt(top) + 2n),
      });
    } finally {
      first.release();
    }
  });
});

describe('event positions after retention', () => {
  it('continues after the newest event when retention has forgotten every other one', async () => {
    const t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { EVENT_RETENTION: 'P1D' } });
    try {
      const w = await openSessionWorld(t.api);
      await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }]);
      const positions = async (): Promise<bigint[] | undefined> => {
        const { rows } = await t.db.query<{ position: string | null }>('SELECT position::text FROM domain_event ORDER BY id');
        return rows.length > 0 && rows.every((r) => r.position !== null) ? rows.map((r) => BigInt(r.position!)) : undefined;
      };
      // The session closes and completes; every event so far is positioned.
      t.clock.advance({ days: 1 });
      await t.app.scheduler.runOnce();
      const before = await waitFor('the events to be positioned', positions);
      const newest = before.reduce((a, b) => (a > b ? a : b));

      // A quiet spell longer than the retention: everything is old enough to forget.
      t.clock.advance({ days: 3 });
      await t.app.scheduler.runOnce();
      expect(await positions()).toEqual([newest]);

      // The next event is numbered after the newest one, not from 1 again.
      await adjustStock(t.api, w.eggs, '5', 'delivery');
      const after = await waitFor('the new event to be positioned', async () => {
        const all = await positions();
        return all && all.length === 2 ? all : undefined;
      });
      expect(after).toEqual([newest, newest + 1n]);
    } finally {
      await t.stop();
    }
  });
});

describe('a commit with more events than the relay takes at a time', () => {
  it('has them all positioned as it commits, not a batch a sweep', async () => {
    // No sweep within the test: only the commit's own relay positions anything.
    const t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', eventSweepIntervalMs: 3_600_000 });
    try {
      // Two full batches and one more, in one commit, as a large session's cancel writes them.
      const em = t.app.orm.em.fork();
      await em.execute(`INSERT INTO domain_event (kind, producer_id, product_id, quantity, available, created_at)
        SELECT 'RELEASED', '${randomUUID()}', '${randomUUID()}', 1, 1, now() FROM generate_series(1, 20001)`);
      markEventsWritten(em);
      await waitFor('every event positioned', async () =>
        ((await t.db.query('SELECT 1 FROM domain_event WHERE position IS NULL LIMIT 1')).rowCount === 0 ? true : undefined));
      const { rows } = await t.db.query<{ n: number; span: number }>('SELECT count(*)::int AS n, (max(position) - min(position) + 1)::int AS span FROM domain_event');
      expect(rows[0]).toEqual({ n: 20001, span: 20001 });
    } finally {
      await t.stop();
    }
  });
});

describe('events written in a savepoint', () => {
  it('are positioned as their transaction commits (a lot moved with the commitments that back it)', async () => {
    // No sweep within the test: only the commit's own relay positions anything.
    const t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', eventSweepIntervalMs: 3_600_000 });
    try {
      const w = await world(t);
      const depot = await addLocation(t.api, w.farm, 'Depot', 2);
      const figs = await w.product('Figs');
      const lot = await receiveLot(t.api, figs, { code: 'F-1', quantity: '5', bestBefore: '2026-12-10' });
      const session = await createOfferSession(t.api, w.hub, [{ productId: figs }]);
      await buy(t.api, session.id, 'ana', session.offerFor(figs), '5');
      await closeSessions(t);
      // The lot's order's commitment goes with it: the move writes its event in a savepoint.
      const { moveLot } = await t.api.data<{ moveLot: { userErrors: unknown[] } }>(
        'mutation ($input: MoveLotInput!) { moveLot(input: $input) { userErrors { code } } }', { input: { lotId: lot, toLocationId: depot } },
      );
      expect(moveLot.userErrors).toEqual([]);
      await waitFor('the move positioned', async () =>
        ((await t.db.query("SELECT 1 FROM domain_event WHERE lot_id = $1 AND kind = 'TRANSFERRED' AND position IS NOT NULL", [lot])).rowCount === 1 ? true : undefined));
    } finally {
      await t.stop();
    }
  });
});
