import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOrm } from '../../src/db/orm.js';
import { preparedSql, sql } from '../../src/shared/sql.js';
import { createTestDatabase } from '../support/test-app.js';

describe('preparedSql', () => {
  let orm: MikroORM;
  let other: pg.Pool;

  beforeAll(async () => {
    const url = await createTestDatabase();
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

  it('refuses an entity manager whose transaction has ended', async () => {
    let ended: Parameters<typeof preparedSql>[0] | undefined;
    await orm.em.fork().transactional(async (em) => {
      ended = em;
    });
    await expect(nameOf(ended!, randomUUID())).rejects.toThrow('has already ended');
  });
});
