import type pg from 'pg';
import { waitFor } from './wait.js';

/**
 * Runs `requests` while another transaction holds what they must wait for (`lock` takes it on the
 * gate's connection), and lets them go only once every one of them has either answered or waits
 * in PostgreSQL: they then really overlap, each on its own connection, whatever the machine's
 * speed, as repeats sent to several replicas at once would.
 */
export async function allAtOnce<T>(db: pg.Pool, lock: (gate: pg.PoolClient) => Promise<unknown>, requests: () => Promise<T>[]): Promise<T[]> {
  const gate = await db.connect();
  try {
    await gate.query('BEGIN');
    await lock(gate);
    let answered = 0;
    const pending = requests().map((request) => request.finally(() => { answered += 1; }));
    await waitFor(`all ${pending.length} requests to answer or wait in PostgreSQL`, async () => {
      const { rows } = await db.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
      );
      return rows[0].n + answered >= pending.length ? true : undefined;
    });
    await gate.query('COMMIT');
    return await Promise.all(pending);
  } finally {
    gate.release();
  }
}
