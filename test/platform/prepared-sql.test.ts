import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrm } from '../../src/db/orm.js';
import { concurrently, PLAN_MAX_AGE_MS, preparedSql, sql } from '../../src/shared/sql.js';
import { createTestDatabase } from '../support/test-app.js';

describe('preparedSql', () => {
  let orm: MikroORM;
  let other: pg.Pool;
  let url: string;

  beforeAll(async () => {
    url = await createTestDatabase();
    orm = await openOrm({ url, poolSize: 2 });
    other = new pg.Pool({ connectionString: url, max: 1 });
  });
  afterAll(async () => {
    await other.end();
    await orm.close();
  });

  const nameOf = (em: Parameters<typeof preparedSql>[0], id: string) =>
    preparedSql<{ name: string }>(em, 'SELECT name FROM producer WHERE id = ?', [id]);

  it('runs in the entity manager\'s transaction: it sees the transaction\'s writes, and nobody else does before COMMIT', async () => {
    const id = randomUUID();
    await expect(
      orm.em.fork().transactional(async (em) => {
        await sql(em, 'INSERT INTO producer (id, name) VALUES (?, ?)', [id, 'Jean']);
        expect(await nameOf(em, id)).toEqual([{ name: 'Jean' }]);
        expect((await other.query('SELECT 1 FROM producer WHERE id = $1', [id])).rowCount).toBe(0);
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await nameOf(orm.em.fork(), id)).toEqual([]);
  });

  it('runs independent reads side by side outside a transaction, and one after another inside one, seeing its writes', async () => {
    const reads = (em: Parameters<typeof sql>[0]) => concurrently(em, [
      () => sql<{ n: number }>(em, 'SELECT 1 AS n'),
      () => sql<{ backend: number }>(em, 'SELECT pg_backend_pid() AS backend'),
      () => sql<{ name: string }>(em, "SELECT name FROM producer WHERE name = 'Concurrent'"),
    ] as const);
    const [[one], [outside]] = await reads(orm.em.fork());
    expect(one).toEqual({ n: 1 });
    expect(outside!.backend).toBeGreaterThan(0);
    await expect(orm.em.fork().transactional(async (em) => {
      await sql(em, "INSERT INTO producer (id, name) VALUES (?, 'Concurrent')", [randomUUID()]);
      const [, [backend], names] = await reads(em);
      const [[own]] = await Promise.all([sql<{ backend: number }>(em, 'SELECT pg_backend_pid() AS backend')]);
      expect(backend).toEqual(own);
      expect(names).toEqual([{ name: 'Concurrent' }]);
      throw new Error('roll back');
    })).rejects.toThrow('roll back');
  });

  it('is prepared by name on the connection, once, with its ? placeholders numbered', async () => {
    await orm.em.fork().transactional(async (em) => {
      const id = randomUUID();
      await sql(em, 'INSERT INTO producer (id, name) VALUES (?, ?)', [id, 'Marie']);
      expect(await nameOf(em, id)).toEqual([{ name: 'Marie' }]);
      expect(await nameOf(em, id)).toEqual([{ name: 'Marie' }]);
      const prepared = await sql<{ name: string; statement: string }>(em, "SELECT name, statement FROM pg_prepared_statements WHERE statement LIKE '%FROM producer WHERE id = $1%'");
      expect(prepared).toHaveLength(1);
      expect(prepared[0]!.name).toMatch(/^foodhub_[0-9a-f]{24}$/);
    });
  });

  it('plans a statement again once its plan is PLAN_MAX_AGE_MS old, for the table as it is then', async () => {
    // One connection, so that every statement below meets the same prepared statement.
    const single = await openOrm({ url, poolSize: 1 });
    try {
      const em = single.em.fork();
      // No autovacuum: nothing but the server itself may make PostgreSQL plan again.
      await sql(em, 'CREATE TABLE plan_probe (id uuid PRIMARY KEY, n int NOT NULL) WITH (autovacuum_enabled = false)');
      const id = randomUUID();
      await sql(em, 'INSERT INTO plan_probe (id, n) VALUES (?, 1)', [id]);
      await sql(em, 'ANALYZE plan_probe');
      const read = () => preparedSql<{ n: number }>(em, 'SELECT n FROM plan_probe WHERE id = ?', [id]);
      const plan = async () => {
        const [prepared] = await sql<{ name: string }>(em, "SELECT name FROM pg_prepared_statements WHERE statement LIKE '%FROM plan_probe WHERE id = $1%'");
        const rows = await sql<{ 'QUERY PLAN': string }>(em, `EXPLAIN EXECUTE ${prepared!.name}('${id}')`);
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      };

      expect(await read()).toEqual([{ n: 1 }]);
      // Planned for a table of one row.
      expect(await plan()).toContain('Seq Scan on plan_probe');
      await sql(em, 'INSERT INTO plan_probe (id, n) SELECT gen_random_uuid(), 2 FROM generate_series(1, 20000)');
      await read();
      // Twenty thousand rows later the plan is the same: PostgreSQL had no reason to plan again.
      expect(await plan()).toContain('Seq Scan on plan_probe');

      await new Promise((resolve) => setTimeout(resolve, PLAN_MAX_AGE_MS + 100));
      expect(await read()).toEqual([{ n: 1 }]);
      expect(await plan()).toContain('Index Scan using plan_probe_pkey');
    } finally {
      await single.close();
    }
  }, 30_000);

  it('refuses an entity manager whose transaction has ended', async () => {
    let ended: Parameters<typeof preparedSql>[0] | undefined;
    await orm.em.fork().transactional(async (em) => {
      ended = em;
    });
    await expect(nameOf(ended!, randomUUID())).rejects.toThrow('has already ended');
  });
});
