// A consignment is on the pick list and the pack list of the same delivery day: the day of its
// delivery in its session's own zone. Sessions stored before zones were checked against
// PostgreSQL's names may hold a name PostgreSQL reads otherwise ("IST": Israel to it, India to
// luxon, which shows the session's times) or not at all ("US/Pacific-New").
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { checkout, createHub, createProducer, createProduct, orderMutation } from '../support/scenarios.js';
import { CLOSES, createOfferSession } from './support.js';
import { createTestDatabase, startTestApp, type TestApp } from '../support/test-app.js';

const PICK = 'query ($p: ID!, $d: String!) { pickList(producerId: $p, deliveryDay: $d) { items { quantity } } }';
const PACK = 'query ($p: ID!, $d: String!) { packList(producerId: $p, deliveryDay: $d) { customers { customerRef } } }';

describe('delivery days in a session stored with a legacy zone name', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  /** 2 of a farm's product sold and paid in a new hub's session delivering at `deliversAt`, stored with `storedZone`, completed. */
  async function sold(storedZone: string, deliversAt: string, farm: string) {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const product = await createProduct(t.api, farm, { name: `Mangoes ${randomUUID().slice(0, 4)}`, onHand: '10' });
    const session = await createOfferSession(t.api, await createHub(t.api, 'Hub'), [{ productId: product }], { deliversAt });
    await t.db.query('UPDATE sales_session SET time_zone = $1 WHERE id = $2', [storedZone, session.id]);
    const order = await checkout(t.api, session.id, 'asha', [{ offerId: session.offerFor(product), quantity: '2' }]);
    await orderMutation(t.api, op.CONFIRM_PAYMENT, order.customerOrder!.id);
    t.clock.set(CLOSES);
    await t.app.scheduler.runOnce();
  }

  it('puts a consignment on the pack list of the day its pick list names, and one unknown zone breaks no other pack list', async () => {
    const farm = await createProducer(t.api, 'Mango farm');
    // 02:00 on the 25th in India (+05:30) is 22:30 on the 24th in Israel (+02).
    await sold('IST', '2026-11-25T02:00:00+05:30', farm);
    await sold('US/Pacific-New', '2026-11-26T08:00:00-08:00', farm);
    const day = async (d: string) => [
      (await t.api.data<{ pickList: { items: unknown[] } }>(PICK, { p: farm, d })).pickList.items.length,
      (await t.api.data<{ packList: unknown[] }>(PACK, { p: farm, d })).packList.length,
    ];
    expect(await day('2026-11-24')).toEqual([0, 0]);
    expect(await day('2026-11-25')).toEqual([1, 1]);
    expect(await day('2026-11-26')).toEqual([1, 1]);
    const csv = await fetch(new URL(`/csv/pack-list?producerId=${farm}&deliveryDay=2026-11-25`, t.app.url), { headers: { authorization: `Bearer ${t.api.token}` } });
    expect(csv.status).toBe(200);
  });

  it("gives pick waves and pack lists their delivery time on the session's own clock, in the API and in CSV", async () => {
    const farm = await createProducer(t.api, 'Date farm');
    await sold('Asia/Kolkata', '2026-11-25T02:00:00+05:30', farm);
    const { pickList } = await t.api.data<{ pickList: { waves: { deliversAt: string }[] } }>(
      'query ($p: ID!, $d: String!) { pickList(producerId: $p, deliveryDay: $d) { waves { deliversAt } } }', { p: farm, d: '2026-11-25' });
    const { packList } = await t.api.data<{ packList: { deliversAt: string }[] }>(
      'query ($p: ID!, $d: String!) { packList(producerId: $p, deliveryDay: $d) { deliversAt } }', { p: farm, d: '2026-11-25' });
    const csv = async (list: string, view = '') => {
      const response = await fetch(new URL(`/csv/${list}?producerId=${farm}&deliveryDay=2026-11-25${view}`, t.app.url), { headers: { authorization: `Bearer ${t.api.token}` } });
      const [header, first] = (await response.text()).split('\r\n');
      return first!.split(',')[header!.split(',').indexOf('delivers_at')];
    };
    // Not 2026-11-24T20:30:00Z: the same instant, as the hub's clock and its delivery day show it.
    expect([pickList.waves.map((w) => w.deliversAt), packList.map((h) => h.deliversAt), await csv('pick-list', '&view=wave'), await csv('pack-list')])
      .toEqual([['2026-11-25T02:00:00+05:30'], ['2026-11-25T02:00:00+05:30'], '2026-11-25T02:00:00+05:30', '2026-11-25T02:00:00+05:30']);
  });
});

describe("delivery days on a database whose own time zone is far from UTC, and whose dates are written the SQL way", () => {
  let t: TestApp;
  beforeAll(async () => {
    // UTC-12: the server's connections then read dates without a zone at -12. DateStyle 'SQL, DMY'
    // writes "23/11/2026 08:00:00 UTC", which no reader of ours parses, unless connections ask for ISO.
    const databaseUrl = await createTestDatabase();
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`ALTER DATABASE "${new URL(databaseUrl).pathname.slice(1)}" SET timezone = 'Etc/GMT+12'`);
    await admin.query(`ALTER DATABASE "${new URL(databaseUrl).pathname.slice(1)}" SET datestyle = 'SQL, DMY'`);
    await admin.end();
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', databaseUrl });
  });
  afterAll(() => t.stop());

  it('finds a consignment delivered early in the day at UTC+14 on that day', async () => {
    const farm = await createProducer(t.api, 'Atoll farm');
    const product = await createProduct(t.api, farm, { name: 'Coconuts', onHand: '10' });
    // 00:30 on the 25th in Kiritimati (+14) is 10:30 UTC on the 24th.
    const session = await createOfferSession(t.api, await createHub(t.api, 'Hub'), [{ productId: product }], { deliversAt: '2026-11-25T00:30:00+14:00' });
    // The helper's sessions are in Paris; this hub's is in Kiritimati.
    await t.db.query('UPDATE sales_session SET time_zone = $1 WHERE id = $2', ['Pacific/Kiritimati', session.id]);
    const order = await checkout(t.api, session.id, 'tem', [{ offerId: session.offerFor(product), quantity: '2' }]);
    await orderMutation(t.api, op.CONFIRM_PAYMENT, order.customerOrder!.id);
    t.clock.set(CLOSES);
    await t.app.scheduler.runOnce();
    const pick = await t.api.data<{ pickList: { items: unknown[] } }>(PICK, { p: farm, d: '2026-11-25' });
    const pack = await t.api.data<{ packList: unknown[] }>(PACK, { p: farm, d: '2026-11-25' });
    expect([pick.pickList.items.length, pack.packList.length]).toEqual([1, 1]);
    const { receiveLot } = await t.api.data<{ receiveLot: { lot: { bestBefore: string } } }>(
      'mutation ($input: ReceiveLotInput!) { receiveLot(input: $input) { lot { bestBefore } userErrors { code } } }',
      { input: { productId: product, code: 'C-1', quantity: '5', grade: 'CLASS_I', bestBefore: '2026-12-01', released: true } },
    );
    expect(receiveLot.lot).toEqual({ bestBefore: '2026-12-01' });
  });
});
