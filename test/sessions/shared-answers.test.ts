import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDatabaseIfMissing } from '../../src/db/database.js';
import { type RunningPostgres, startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { SHARED_ANSWER_MAX_AGE_MS } from '../../src/graphql/shared-reads.js';
import { ReadGroups } from '../../src/shared/read-groups.js';
import { findFreePort } from '../../src/shared/free-port.js';
import { createLogger } from '../../src/shared/logger.js';
import { OFFERS_READ, whileOfferReadsHeld } from '../support/held-reads.js';
import { createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { countStatements } from '../support/statements.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const PAGE = 'query ($id: ID!) { salesSession(id: $id) { status offers { available product { name } } } }';
interface Page {
  salesSession: { status: string; offers: { available: string; product: { name: string } }[] };
}

/**
 * Identical queries share answers while PostgreSQL's snapshot says nothing was committed
 * (src/graphql/shared-reads.ts). The snapshot is the whole PostgreSQL server's: on the one every
 * other test file writes to, whether two requests share would depend on their timing. This file
 * runs its own, with nothing else writing (autovacuum off), so a test can say exactly how many
 * reads a page took.
 */
describe('identical queries while nothing is committed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'foodhub-shared-'));
  chmodSync(dir, 0o755);
  let postgres: RunningPostgres;
  let t: TestApp;
  let sessionId: string;
  let hubId: string;
  let productId: string;
  const times = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T18:00:00+01:00' };

  const snapshot = async () => (await t.db.query<{ s: string }>('SELECT pg_current_snapshot()::text AS s')).rows[0]!.s;
  /** Until the server's background work on what the setup wrote (sequencing its events) is done. */
  const settled = () =>
    waitFor('the events to be sequenced', async () => {
      const { rows } = await t.db.query<{ n: number }>('SELECT count(*)::int AS n FROM domain_event WHERE position IS NULL');
      return rows[0]!.n === 0 ? true : undefined;
    });

  beforeAll(async () => {
    postgres = await startEmbeddedPostgres({ dataDir: join(dir, 'pg'), port: await findFreePort(), persistent: false, logger: createLogger('silent'), settings: { autovacuum: 'off' } });
    await createDatabaseIfMissing(postgres.url('postgres'), 'shared');
    t = await startTestApp({ databaseUrl: postgres.url('shared'), start: '2026-11-23T17:59:59+01:00' });
    const producer = await createProducer(t.api, 'Jean');
    productId = await createProduct(t.api, producer, { name: 'Carrots', unit: 'kg', onHand: '10' });
    hubId = await createHub(t.api, 'Hub');
    sessionId = (await createSession(t.api, hubId, { ...times, products: [productId] })).id;
  });
  afterEach(() => vi.restoreAllMocks());
  afterAll(async () => {
    await t?.stop();
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers from one read while nothing is committed, re-reads after any commit to the database, and after a second by the clock', async () => {
    // The hub's storefront backend: a visitor without a token is not shown the session once it closed.
    const storefront = await t.as({ role: 'hub', hubId });
    const ask = () => storefront.data<Page>(PAGE, { id: sessionId });
    await settled();
    const reads = countStatements(OFFERS_READ);
    try {
      const before = await snapshot();
      const first = await ask();
      expect(first.salesSession).toEqual({ status: 'OPEN', offers: [{ available: '10', product: { name: 'Carrots' } }] });
      // The second asks again within the second: its read notes the snapshot first, and is kept.
      for (let i = 0; i < 5; i += 1) expect(await ask()).toEqual(first);
      expect(reads.count()).toBe(2);
      expect(await snapshot()).toBe(before);

      // A commit this server knows nothing of (another replica's, an operator's): the next answer has it.
      await t.db.query("UPDATE product SET name = 'Carrots (new season)' WHERE id = $1", [productId]);
      expect((await ask()).salesSession.offers[0]!.product.name).toBe('Carrots (new season)');
      expect(reads.count()).toBe(3);
      expect(await ask()).toEqual((await ask()));
      expect(reads.count()).toBe(3);

      // Nothing committed, but the session closed by the clock: the answer kept from before it
      // may be given for at most SHARED_ANSWER_MAX_AGE_MS of the clock after its read began.
      t.clock.advance({ milliseconds: SHARED_ANSWER_MAX_AGE_MS + 1 });
      expect((await ask()).salesSession.status).toBe('CLOSED');
      expect(reads.count()).toBe(4);
    } finally {
      reads.stop();
    }
  });

  it('shares the read in progress with whoever arrives while nothing is committed, and never with whoever arrives after a commit', async () => {
    t.clock.set('2026-11-23T12:00:00+01:00');
    const storefront = await t.as();
    const ask = (query: string) => storefront.request<Page>(query, { id: sessionId });
    const name = async (answer: ReturnType<typeof ask>) => (await answer).data?.salesSession.offers[0]!.product.name;
    const takes = vi.spyOn(ReadGroups.prototype, 'take');

    // Asked for a second time, each read below notes the snapshot before it begins.
    const QUIET = `${PAGE} # quiet`;
    await ask(QUIET);
    await settled();
    await whileOfferReadsHeld(t, async (held) => {
      const reading = ask(QUIET);
      await waitFor('the read to wait for the offers', async () => ((await held.waiting()) === 1 ? true : undefined));
      const during = [ask(QUIET), ask(QUIET)];
      await waitFor('both to reach the server', async () => (takes.mock.calls.length === 4 ? true : undefined));
      await held.release();
      for (const answer of during) expect(await name(answer)).toBe(await name(reading));
      expect(held.offerReads()).toBe(1);
    });

    const COMMITTED = `${PAGE} # committed`;
    await ask(COMMITTED);
    await settled();
    await whileOfferReadsHeld(t, async (held) => {
      const reading = ask(COMMITTED);
      await waitFor('the read to wait for the offers', async () => ((await held.waiting()) === 1 ? true : undefined));
      await t.db.query("UPDATE product SET name = 'Carrots (late)' WHERE id = $1", [productId]);
      const after = ask(COMMITTED);
      await waitFor('it to reach the server', async () => (takes.mock.calls.length === 7 ? true : undefined));
      await held.release();
      expect(await name(after)).toBe('Carrots (late)');
      // (The read in progress may show the commit too: PostgreSQL took its snapshot once the lock
      // was granted. The server cannot know that, so it read again for the caller who came after.)
      await reading;
      expect(held.offerReads()).toBe(2);
    });
  });

  it('re-reads after the commit of a transaction that was already writing when the answer was read', async () => {
    t.clock.set('2026-11-23T12:00:00+01:00');
    const storefront = await t.as();
    const LONG = `${PAGE} # long`;
    const name = async () => (await storefront.data<Page>(LONG, { id: sessionId })).salesSession.offers[0]!.product.name;
    await settled();
    const writer = await t.db.connect();
    const reads = countStatements(OFFERS_READ);
    try {
      await writer.query('BEGIN');
      await writer.query("UPDATE product SET name = 'Carrots (long transaction)' WHERE id = $1", [productId]);
      // A later transaction ends first: the writer is now below the snapshot's xmax, and its
      // commit shows only as its id leaving the in-progress list.
      await t.db.query('SELECT pg_current_xact_id()');
      const before = await name();
      expect(before).not.toBe('Carrots (long transaction)');
      expect(await name()).toBe(before);
      expect(reads.count()).toBe(2);
      const whileWriting = await snapshot();
      await writer.query('COMMIT');
      const afterCommit = await snapshot();
      // The case this is about: the commit left xmax where it was ("xmin:xmax:in-progress").
      expect(afterCommit.split(':')[1]).toBe(whileWriting.split(':')[1]);
      expect(afterCommit).not.toBe(whileWriting);
      expect(await name()).toBe('Carrots (long transaction)');
      expect(reads.count()).toBe(3);
    } finally {
      reads.stop();
      writer.release();
    }
  });

  it('asks nothing of the database for a query that reads nothing from it', async () => {
    const visitor = await t.as();
    const snapshots = countStatements('pg_current_snapshot');
    try {
      for (let i = 0; i < 3; i += 1) expect(await visitor.data('{ __typename }')).toEqual({ __typename: 'Query' });
      expect(snapshots.count()).toBe(0);
      // A query that reads, asked again: the second takes the snapshot before reading.
      for (let i = 0; i < 2; i += 1) await visitor.data(`${PAGE} # reads`, { id: sessionId });
      expect(snapshots.count()).toBe(1);
    } finally {
      snapshots.stop();
    }
  });
});
