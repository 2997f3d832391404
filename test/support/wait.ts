import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it returns a value other than undefined, for things that happen on their own
 * (a timer, another process). Fails with `what` after `timeoutMs`; never used to assert speed.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Until some session (or `sessions` of them) of this test's own database waits for a lock, e.g. a request of the server's
 * queued behind a transaction the test holds open. Other test files share the PostgreSQL server,
 * so their lock waits must not count.
 */
export function waitForLockWait(db: { query(sql: string): Promise<{ rowCount: number | null }> }, what = 'a request to wait for a lock', sessions = 1): Promise<true> {
  return waitFor(what, async () => {
    const { rowCount } = await db.query(
      'SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = current_database()',
    );
    return (rowCount ?? 0) >= sessions ? true : undefined;
  });
}
