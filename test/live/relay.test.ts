// The relay that gives committed events their positions, run by every replica after its commits:
// many at once must still hand out each position once, with no gap, whatever they interleave with.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/test-app.js';

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
});
