// A replica's event listener (LISTEN) reconnects when its connection drops. A stop that comes
// while it reconnects must not leave the new connection open (it would keep a stopping process
// alive, and hold a database connection), nor may a drop during the reconnect open a second one.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

describe('the event listener while it reconnects', () => {
  let db: pg.Pool;
  let databaseUrl: string;
  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  });
  afterAll(() => db.end());

  const listeners = async () =>
    (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'foodhub-events' AND datname = current_database()")).rows[0]!.n;
  const dropListeners = () => db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'foodhub-events' AND datname = current_database()");
  /** A replica of its own on the test's database, and its stop (once). */
  const replica = async () => {
    const t: TestApp = await startTestApp({ databaseUrl });
    let stopped = false;
    return { app: t.app, stop: async () => {
      if (!stopped) await t.app.stop();
      stopped = true;
      await t.db.end().catch(() => undefined);
    } };
  };

  it('stopped meanwhile, closes the connection it was opening', async () => {
    const { app, stop } = await replica();
    try {
      expect(await listeners()).toBe(1);
      // The reconnect waits at its start until the stop has run.
      const hub = app.events as unknown as { listen(): Promise<void> };
      const listen = hub.listen.bind(hub);
      let letItConnect!: () => void;
      const stopRan = new Promise<void>((resolve) => (letItConnect = resolve));
      let reconnected: Promise<void> | undefined;
      hub.listen = () => (reconnected = stopRan.then(listen));
      await dropListeners();
      await waitFor('the listener to reconnect', async () => (reconnected ? true : undefined));
      await app.stop();
      letItConnect();
      await reconnected?.catch(() => undefined);
      expect(await listeners()).toBe(0);
    } finally {
      await stop();
    }
  });

  it('lost again while it reconnects, keeps one listener, and none once stopped', async () => {
    const { app, stop } = await replica();
    const hub = app.events as unknown as { reconnecting: boolean; listener: unknown };
    const connect = pg.Client.prototype.connect;
    let armed = true;
    let connects = 0;
    // The next listener connection is cut right after it connects, before its LISTEN.
    (pg.Client.prototype as unknown as { connect: (...args: unknown[]) => Promise<void> }).connect = async function (this: pg.Client, ...args: unknown[]) {
      await (connect as unknown as (...a: unknown[]) => Promise<void>).apply(this, args);
      if ((this as unknown as { connectionParameters?: { application_name?: string } }).connectionParameters?.application_name !== 'foodhub-events') return;
      connects += 1;
      if (armed) {
        armed = false;
        const { rows: [row] } = await this.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await db.query('SELECT pg_terminate_backend($1)', [row!.pid]);
      }
    };
    try {
      expect(await listeners()).toBe(1);
      await dropListeners();
      await waitFor('the listener to be back, its reconnect done', async () => (!armed && !hub.reconnecting && hub.listener ? true : undefined), 15_000);
      // A second reconnect loop, had the cut connection started one, would have connected by now.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // The cut connection, then the one retry that listens.
      expect({ connects, listeners: await listeners() }).toEqual({ connects: 2, listeners: 1 });
      await app.stop();
      await waitFor('no listener left', async () => ((await listeners()) === 0 ? true : undefined), 5_000);
    } finally {
      pg.Client.prototype.connect = connect;
      await stop();
    }
  });
});
