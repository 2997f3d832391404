import { countStatements } from './statements.js';
import type { TestApp } from './test-app.js';

/** The statement that reads a page's offers (src/modules/sessions/catalogue-read.ts). */
export const OFFERS_READ = 'catalogue page: offers';

export interface HeldOfferReads {
  /** How many of the server's offer reads are waiting for the lock now. */
  waiting(): Promise<number>;
  /** Lets them go. */
  release(): Promise<void>;
  /** Offer reads the server has sent so far, waiting or done. */
  offerReads(): number;
}

/**
 * Runs `test` while every read of the offer table is held until it calls release(): a page's
 * first statement (the session) runs, its second (the offers) waits. Releases, if the test did
 * not, and stops counting when it ends.
 */
export async function whileOfferReadsHeld(t: TestApp, test: (held: HeldOfferReads) => Promise<void>): Promise<void> {
  const reads = countStatements(OFFERS_READ);
  const lock = await t.db.connect();
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await lock.query('ROLLBACK');
    lock.release();
  };
  try {
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE offer IN ACCESS EXCLUSIVE MODE');
    await test({
      async waiting() {
        const { rows } = await t.db.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() AND query LIKE $1",
          [`%${OFFERS_READ}%`],
        );
        return rows[0].n as number;
      },
      release,
      offerReads: reads.count,
    });
  } finally {
    reads.stop();
    await release();
  }
}
