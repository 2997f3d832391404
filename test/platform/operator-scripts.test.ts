import { spawn } from 'node:child_process';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { readTokenRequest, TokenRequestError } from '../../src/auth/token-request.js';
import { createDatabaseIfMissing } from '../../src/db/database.js';
import { checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { startTestApp } from '../support/test-app.js';
import { addLocation } from '../fulfilment/support.js';
import { findFreePort } from '../../src/shared/free-port.js';

function run(script: string, args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise<{ code: number | null; output: string }>((resolve) => child.once('exit', (code) => resolve({ code, output })));
}


describe('operator scripts', () => {
  it('keep their exit code when they used the embedded PostgreSQL', async () => {
    const { code } = await run('scripts/embedded-exit-code.ts', ['3', String(await findFreePort())]);
    expect(code).toBe(3);
  });

  it('npm run token makes no secret of its own: without the server\'s DATA_DIR (or JWT_SECRET) it says so', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'foodhub-token-'));
    try {
      const result = await run('scripts/token.ts', ['--role', 'admin'], { DATA_DIR: dataDir, JWT_SECRET: '', NODE_ENV: 'development' });
      expect(result.code).toBe(2);
      expect(result.output).toContain(`no secret was generated in ${dataDir}`);
      expect(existsSync(join(dataDir, 'jwt-secret'))).toBe(false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('npm run token says what --expires takes, and signs for as long as it is told', async () => {
    const secret = { JWT_SECRET: 'a-secret-for-this-test-of-32-chars-or-more', NODE_ENV: 'development' };
    const typo = await run('scripts/token.ts', ['--role', 'admin', '--expires', '2x'], secret);
    expect(typo.code).toBe(2);
    expect(typo.output.trim()).toBe('--expires must be a number (at least 1) and a unit, e.g. 30m, 12h or 7d (got "2x")');
    const good = await run('scripts/token.ts', ['--role', 'admin', '--expires', '30m'], secret);
    expect(good.code).toBe(0);
    const { exp, iat } = JSON.parse(Buffer.from(good.output.trim().split('\n').at(-1)!.split('.')[1]!, 'base64url').toString()) as { exp: number; iat: number };
    expect(exp - iat).toBe(30 * 60);
  });

  it('npm run token refuses arguments it cannot read and claims the server would refuse, in a line (the script exits 2 with it, as above)', () => {
    const hub = '6f1c2b1e-8d3a-4c1e-9f6e-2a7b5c9d0e1f';
    const refusals: [string[], string][] = [
      [['--role', 'admin', '--hubb', hub], "Unknown option '--hubb'"],
      [['--role', 'hub', '--hub'], "Option '--hub <value>' argument missing"],
      [['admin'], "Unexpected argument 'admin'"],
      [['--role', 'hub'], '--role hub needs --hub <hubId>'],
      [['--role', 'hub', '--hub', 'not-a-uuid'], 'the server would refuse this token: the "hubId" claim must be an id'],
      [['--role', 'producer', '--producer', ''], 'the server would refuse this token: the "producerId" claim must be an id'],
      [['--role', 'customer', '--hub', hub, '--customer', ' '], 'the server would refuse this token: the "customerRef" claim is missing'],
      [['--role', 'admin', '--expires', '0s'], '--expires must be a number (at least 1)'],
      // jose takes at most one space between the number and the unit.
      [['--role', 'admin', '--expires', '1  h'], '--expires must be a number (at least 1)'],
    ];
    for (const [args, message] of refusals) {
      expect(() => readTokenRequest(args)).toThrow(TokenRequestError);
      expect(() => readTokenRequest(args)).toThrow(message);
    }
    expect(readTokenRequest(['--role', 'customer', '--hub', hub, '--customer', 'Zoë', '--expires', '2 h']))
      .toEqual({ claims: { role: 'customer', hubId: hub, customerRef: 'Zoë' }, expiresIn: '2 h' });
  });

  it('npm run check:stock says so, with exit code 2, when pointed at a database that is not the server\'s', async () => {
    const url = new URL(inject('adminUrl'));
    url.pathname = `/not_foodhub_${randomBytes(4).toString('hex')}`;
    await createDatabaseIfMissing(inject('adminUrl'), url.pathname.slice(1));
    try {
      const wrong = await run('scripts/check-stock.ts', [], { DATABASE_URL: url.toString() });
      expect(wrong.code).toBe(2);
      expect(wrong.output).toContain('no foodhub database at');
      expect(wrong.output).not.toMatch(/Exception|\.ts:\d+/);
    } finally {
      const admin = new pg.Client({ connectionString: inject('adminUrl') });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS ${url.pathname.slice(1)}`).finally(() => admin.end());
    }
  });

  it('npm run check:stock pointed at a DATA_DIR with no PostgreSQL says so, with exit code 2, and creates none there', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'foodhub-wrong-data-'));
    try {
      const wrong = await run('scripts/check-stock.ts', [], { DATABASE_URL: '', DATA_DIR: dataDir });
      expect(wrong.code).toBe(2);
      expect(wrong.output).toContain('no embedded PostgreSQL in');
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('npm run check:stock pointed at a database it cannot reach says so in a line, with exit code 2, not as drift', async () => {
    const url = new URL(inject('adminUrl'));
    url.port = String(await findFreePort());
    const unreachable = await run('scripts/check-stock.ts', [], { DATABASE_URL: url.toString() });
    expect(unreachable.code).toBe(2);
    expect(unreachable.output).toContain('stock: cannot use the database at');
    expect(unreachable.output).not.toMatch(/\n\s+at /);
  });

  it('npm run check:stock reports drift with exit code 1, and a healthy database with 0', async () => {
    const t = await startTestApp();
    try {
      const jean = await createProducer(t.api, 'Jean');
      const carrots = await createProduct(t.api, jean, { name: 'Carrots', onHand: '10' });
      await addLocation(t.api, jean, 'Cold store', 2);
      const healthy = await run('scripts/check-stock.ts', [], { DATABASE_URL: t.databaseUrl });
      expect(healthy.code).toBe(0);
      // One product, with a level at each of two locations.
      expect(healthy.output).toContain('stock: 1 product checked (each at every location), levels equal the ledger');

      // Someone edits a level by hand, behind the ledger's back.
      const db = new pg.Client({ connectionString: t.databaseUrl });
      await db.connect();
      await db.query(
        "UPDATE stock_level SET on_hand = on_hand + 1 WHERE product_id = $1 AND location_id = (SELECT id FROM location WHERE producer_id = $2 AND name = 'Main')",
        [carrots, jean],
      );
      await db.end();
      const drifted = await run('scripts/check-stock.ts', [], { DATABASE_URL: t.databaseUrl });
      expect(drifted.code).toBe(1);
      expect(drifted.output).toContain(carrots);
      const { stockReconciliation } = await t.api.data<{ stockReconciliation: { productId: string; onHand: string; ledgerOnHand: string }[] }>(
        '{ stockReconciliation { productId onHand ledgerOnHand } }',
      );
      expect(stockReconciliation).toEqual([{ productId: carrots, onHand: '11', ledgerOnHand: '10' }]);

      // A database this version has not migrated yet (an older release still serves it) is not
      // drift: this version's queries would read columns it lacks.
      const older = new pg.Client({ connectionString: t.databaseUrl });
      await older.connect();
      await older.query('DELETE FROM mikro_orm_migrations WHERE id = (SELECT max(id) FROM mikro_orm_migrations)');
      await older.end();
      const behind = await run('scripts/check-stock.ts', [], { DATABASE_URL: t.databaseUrl });
      expect(behind.code).toBe(2);
      expect(behind.output).toContain("lacks 1 of this version's migrations");
      expect(behind.output).not.toMatch(/\n\s+at /);
    } finally {
      await t.stop();
    }
  });

  it('npm run check:stock reports a capped offer whose count drifted from its orders', async () => {
    const t = await startTestApp();
    try {
      const jean = await createProducer(t.api, 'Jean');
      const carrots = await createProduct(t.api, jean, { name: 'Carrots', onHand: '10' });
      const session = await createSession(t.api, await createHub(t.api, 'Hub A'), {
        opensAt: '2026-11-23T07:00:00+01:00',
        closesAt: '2026-11-23T20:00:00+01:00',
        products: [carrots],
        caps: { [carrots]: '5' },
      });
      expect((await checkout(t.api, session.id, 'ann', [{ offerId: session.offerFor(carrots), quantity: '2' }])).userErrors).toEqual([]);
      const healthy = await run('scripts/check-stock.ts', [], { DATABASE_URL: t.databaseUrl });
      expect(healthy.code).toBe(0);
      expect(healthy.output).toContain('caps: 1 capped offer checked, each counts what its live orders hold');

      const db = new pg.Client({ connectionString: t.databaseUrl });
      await db.connect();
      await db.query('UPDATE offer SET taken = 0 WHERE id = $1', [session.offerFor(carrots)]);
      await db.end();
      const drifted = await run('scripts/check-stock.ts', [], { DATABASE_URL: t.databaseUrl });
      expect(drifted.code).toBe(1);
      expect(drifted.output).toContain(`{"offerId":"${session.offerFor(carrots)}","cap":"5","taken":"0","heldByOrders":"2"}`);
    } finally {
      await t.stop();
    }
  });
});
