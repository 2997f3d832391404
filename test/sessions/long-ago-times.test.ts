// Session times long ago ("open since always"): before about 1900, zones kept local mean time, an
// offset with seconds that ISO 8601's hours and minutes cannot write. Shown in the session's zone,
// such a time named another instant; read by a PostgreSQL whose TimeZone is such a zone, it could
// not be parsed at all, and every checkout of the session failed.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { createHub, createProducer, createProduct } from '../support/scenarios.js';
import { createTestDatabase, startTestApp, type TestApp } from '../support/test-app.js';

interface Created {
  createSalesSession: { salesSession: { id: string; opensAt: string; closesAt: string; offers: { id: string }[] } | null; userErrors: { code: string }[] };
}

const sessionInput = (hubId: string, productId: string, fields: { opensAt: string; closesAt: string; timeZone: string; idempotencyKey?: string }) =>
  ({ input: { hubId, offers: [{ productId, price: { amount: 250, currency: 'EUR' } }], ...fields } });

describe('session times before zones had whole-minute offsets', () => {
  let t: TestApp;
  let hub: string;
  let product: string;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    hub = await createHub(t.api, 'Hub A');
    product = await createProduct(t.api, await createProducer(t.api, 'Jean'), { name: 'Carrots', onHand: '10' });
  });
  afterAll(() => t.stop());

  it.each([
    ['Paris in 1850 (+00:09:21)', '1850-06-01T12:00:00Z', 'Europe/Paris', 'since-1850'],
    ['New York at the start of the year 0001 (-04:56:02, the year 0000 there)', '0001-01-01T00:00:00Z', 'America/New_York', 'since-always'],
    ['Guam in 1843 (-14:21, whole minutes, but beyond the ±14:00 any time is written with)', '1843-06-01T00:00:00Z', 'Pacific/Guam', 'since-1843'],
  ])('shows %s as the instant stored, which a retry can send back as the same request', async (_, opensAt, timeZone, idempotencyKey) => {
    const fields = { opensAt, closesAt: '2026-11-27T18:00:00+01:00', timeZone, idempotencyKey };
    const first = await t.api.data<Created>(op.CREATE_SALES_SESSION, sessionInput(hub, product, fields));
    expect(first.createSalesSession.userErrors).toEqual([]);
    const shown = first.createSalesSession.salesSession!;
    expect(new Date(shown.opensAt).toISOString()).toBe(new Date(opensAt).toISOString());
    expect(shown.opensAt).not.toMatch(/[+-](1[5-9]|[2-9]\d):\d\d$|[+-]14:(0[1-9]|[1-5]\d)$/);
    const retry = await t.api.data<Created>(op.CREATE_SALES_SESSION, sessionInput(hub, product, { ...fields, opensAt: shown.opensAt, closesAt: shown.closesAt }));
    expect(retry.createSalesSession).toEqual({ salesSession: shown, userErrors: [] });
  });
});

describe('a PostgreSQL whose TimeZone is a zone with a local mean time (initdb on a machine in Paris)', () => {
  let t: TestApp;
  beforeAll(async () => {
    const url = await createTestDatabase();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`ALTER DATABASE "${new URL(url).pathname.slice(1)}" SET timezone = 'Europe/Paris'`);
    await admin.end();
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', databaseUrl: url });
  });
  afterAll(() => t.stop());

  it('checks out in a session that opened long ago', async () => {
    const hub = await createHub(t.api, 'Hub A');
    const product = await createProduct(t.api, await createProducer(t.api, 'Jean'), { name: 'Carrots', onHand: '10' });
    const created = await t.api.data<Created>(op.CREATE_SALES_SESSION, sessionInput(hub, product, {
      opensAt: '1850-01-01T00:00:00Z', closesAt: '2026-11-27T18:00:00+01:00', timeZone: 'Europe/Paris',
    }));
    expect(created.createSalesSession.userErrors).toEqual([]);
    const session = created.createSalesSession.salesSession!;
    const { checkout } = await t.api.data<{ checkout: { customerOrder: { status: string } | null; userErrors: unknown[] } }>(op.CHECKOUT, {
      input: { salesSessionId: session.id, customerRef: 'ali', idempotencyKey: 'basket-1', lines: [{ offerId: session.offers[0]!.id, quantity: '1' }] },
    });
    expect(checkout).toEqual({ customerOrder: expect.objectContaining({ status: 'PENDING_PAYMENT' }), userErrors: [] });
  });
});
