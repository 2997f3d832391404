// A replica's event listener (LISTEN) reconnects when its connection drops; a stop that comes
// while it reconnects must not leave the new connection open (it would keep a stopping process
// alive, and hold a database connection).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

describe('the event listener stopped while it reconnects', () => {
  let t: TestApp;
  let stopped = false;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    if (!stopped) await t.app.stop();
    await t.db.end();
  });

  it('closes the connection it was opening', async () => {
    const listeners = async () =>
      (await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'foodhub-events' AND datname = current_database()")).rows[0]!.n;
    expect(await listeners()).toBe(1);
    // The reconnect waits at its start until the stop has run.
    const hub = t.app.events as unknown as { listen(): Promise<void> };
    const listen = hub.listen.bind(hub);
    let letItConnect!: () => void;
    const stopRan = new Promise<void>((resolve) => (letItConnect = resolve));
    let reconnected: Promise<void> | undefined;
    hub.listen = () => (reconnected = stopRan.then(listen));
    await t.db.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'foodhub-events' AND datname = current_database()");
    await waitFor('the listener to reconnect', async () => (reconnected ? true : undefined));
    await t.app.stop();
    stopped = true;
    letItConnect();
    await reconnected?.catch(() => undefined);
    expect(await listeners()).toBe(0);
  });
});
