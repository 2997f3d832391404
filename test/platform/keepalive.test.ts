// Every connection the server opens to PostgreSQL has TCP keepalive on, so one whose peer vanished
// (a managed database failing over, a NAT forgetting an idle flow) is found dead instead of waited
// on for ever. Observed on the real sockets: the server's connections, as PostgreSQL lists them,
// against the sockets on which keepalive was switched on.
import { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TCP_KEEPALIVE } from '../../src/db/tcp-keepalive.js';
import * as op from '../support/operations.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

describe('connections to PostgreSQL', () => {
  const keptAlive = new Set<number>();
  let t: TestApp;

  beforeAll(async () => {
    const setKeepAlive = Socket.prototype.setKeepAlive;
    vi.spyOn(Socket.prototype, 'setKeepAlive').mockImplementation(function (this: Socket, enable?: boolean, delay?: number) {
      if (enable === true && delay === TCP_KEEPALIVE.keepAliveInitialDelayMillis && this.localPort !== undefined) keptAlive.add(this.localPort);
      return setKeepAlive.call(this, enable, delay);
    });
    t = await startTestApp();
    // Enough work for the pool to open several connections.
    await Promise.all(Array.from({ length: 5 }, (_, i) => t.api.data(op.CREATE_PRODUCER, { input: { name: `Farm ${i}` } })));
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await t.stop();
  });

  it('have TCP keepalive on: the pool\'s and the event listener\'s', async () => {
    const { rows } = await t.db.query<{ application_name: string; client_port: number }>(
      `SELECT application_name, client_port FROM pg_stat_activity
        WHERE datname = current_database() AND application_name IN ('foodhub-wholesale', 'foodhub-events')`,
    );
    const applications = new Set(rows.map((r) => r.application_name));
    expect(applications).toEqual(new Set(['foodhub-wholesale', 'foodhub-events']));
    const without = rows.filter((r) => !keptAlive.has(r.client_port));
    expect(without).toEqual([]);
  });
});
