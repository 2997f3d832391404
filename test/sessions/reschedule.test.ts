// updateSalesSession: a hub moves a week that has not closed (bad weather, a late harvest). Checkouts
// and the scheduler follow the new times; a closed session keeps its own.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { GraphQLClient } from '../support/graphql.js';
import { approveHub, checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const UPDATE = `mutation ($input: UpdateSalesSessionInput!) { updateSalesSession(input: $input) {
  salesSession { id status opensAt closesAt deliversAt } userErrors { field message code } } }`;

type Payload = {
  salesSession: { id: string; status: string; opensAt: string; closesAt: string; deliversAt: string | null } | null;
  userErrors: { field: string[] | null; message: string; code: string }[];
};

describe('moving a sales session', () => {
  let t: TestApp;
  let hub: string;
  let carrots: string;
  let asHub: GraphQLClient;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T08:00:00+01:00' });
    hub = await createHub(t.api, 'Hub A');
    const jean = await createProducer(t.api, 'Jean');
    carrots = await createProduct(t.api, jean, { name: 'Carrots', onHand: '100' });
    await approveHub(t.api, jean, hub);
    asHub = await t.as({ role: 'hub', hubId: hub });
  });
  beforeEach(() => t.clock.set('2026-11-23T08:00:00+01:00'));
  afterAll(() => t.stop());

  const session = (opensAt = '2026-11-23T07:00:00+01:00', closesAt = '2026-11-27T18:00:00+01:00') =>
    createSession(asHub, hub, { opensAt, closesAt, products: [carrots] });
  const update = async (input: Record<string, unknown>, api = asHub) => (await api.data<{ updateSalesSession: Payload }>(UPDATE, { input })).updateSalesSession;
  const buy = (s: Awaited<ReturnType<typeof session>>) => checkout(asHub, s.id, `c-${randomUUID().slice(0, 6)}`, [{ offerId: s.offerFor(carrots), quantity: '1' }]);
  const completed = async (id: string) => (await t.db.query('SELECT completed_at FROM sales_session WHERE id = $1', [id])).rows[0].completed_at !== null;

  it("moves a session's close and delivery, shown in its own zone; not its opening", async () => {
    const s = await session('2026-11-30T09:00:00+01:00', '2026-12-04T18:00:00+01:00');
    const moved = await update({ salesSessionId: s.id, closesAt: '2026-12-11T17:00:00Z', deliversAt: '2026-12-12T07:00:00Z' });
    expect(moved).toEqual({
      salesSession: { id: s.id, status: 'SCHEDULED', opensAt: '2026-11-30T09:00:00+01:00', closesAt: '2026-12-11T18:00:00+01:00', deliversAt: '2026-12-12T08:00:00+01:00' },
      userErrors: [],
    });
    // null: deliveries are due at the close, as when none was given; a field left out stays.
    expect((await update({ salesSessionId: s.id, deliversAt: null })).salesSession).toMatchObject({ closesAt: '2026-12-11T18:00:00+01:00', deliversAt: '2026-12-11T18:00:00+01:00' });
    expect((await t.db.query('SELECT delivers_at FROM sales_session WHERE id = $1', [s.id])).rows[0].delivers_at).toBeNull();
    // A hub's sessions page in opening order: the opening is not for moving.
    const opening = await asHub.request(UPDATE, { input: { salesSessionId: s.id, opensAt: '2026-12-01T09:00:00+01:00' } });
    expect(opening.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('answers a retried move as the first, even once the moved close has passed', async () => {
    const s = await session();
    const move = { salesSessionId: s.id, closesAt: '2026-11-23T09:00:00+01:00' };
    const first = await update(move);
    expect(first.userErrors).toEqual([]);
    // The answer was lost; the hub's system sends the same request again, after the new close.
    t.clock.set('2026-11-23T09:00:30+01:00');
    expect(await update(move)).toEqual({ ...first, salesSession: { ...first.salesSession!, status: 'CLOSED' } });
  });

  it('keeps taking checkouts past the old close when the close moved later, and completes at the new one', async () => {
    const s = await session();
    expect((await update({ salesSessionId: s.id, closesAt: '2026-11-28T18:00:00+01:00' })).userErrors).toEqual([]);
    t.clock.set('2026-11-27T19:00:00+01:00');
    await t.app.scheduler.runOnce();
    expect(await completed(s.id)).toBe(false);
    expect((await buy(s)).userErrors).toEqual([]);
    t.clock.set('2026-11-28T18:00:01+01:00');
    await t.app.scheduler.runOnce();
    expect(await completed(s.id)).toBe(true);
  });

  it('stops checkouts at an earlier close, and the scheduler completes it then', async () => {
    const s = await session();
    expect((await update({ salesSessionId: s.id, closesAt: '2026-11-24T12:00:00+01:00' })).userErrors).toEqual([]);
    t.clock.set('2026-11-24T12:00:01+01:00');
    expect((await buy(s)).userErrors.map((e) => e.code)).toEqual(['SESSION_NOT_OPEN']);
    await t.app.scheduler.runOnce();
    expect(await completed(s.id)).toBe(true);
  });

  it('refuses what it cannot do, changing nothing', async () => {
    const open = await session();
    const before = (await t.db.query('SELECT opens_at, closes_at, delivers_at FROM sales_session WHERE id = $1', [open.id])).rows[0];
    const refusals: [Record<string, unknown>, string, string[]][] = [
      [{ closesAt: '2026-11-23T07:30:00+01:00' }, 'INVALID_INPUT', ['closesAt']],
      [{ closesAt: '2026-11-23T06:00:00+01:00' }, 'INVALID_INPUT', ['closesAt']],
      [{ deliversAt: '2026-11-26T09:00:00+01:00' }, 'INVALID_INPUT', ['deliversAt']],
    ];
    for (const [fields, code, field] of refusals) {
      const refused = await update({ salesSessionId: open.id, ...fields });
      expect(refused.salesSession, JSON.stringify(fields)).toBeNull();
      expect(refused.userErrors, JSON.stringify(fields)).toContainEqual(expect.objectContaining({ code, field }));
    }
    // Its own close again is no change.
    expect((await update({ salesSessionId: open.id, closesAt: '2026-11-27T18:00:00+01:00' })).userErrors).toEqual([]);
    expect((await t.db.query('SELECT opens_at, closes_at, delivers_at FROM sales_session WHERE id = $1', [open.id])).rows[0]).toEqual(before);

    const closed = await session('2026-11-23T07:00:00+01:00', '2026-11-23T09:00:00+01:00');
    t.clock.set('2026-11-23T10:00:00+01:00');
    expect((await update({ salesSessionId: closed.id, closesAt: '2026-11-30T18:00:00+01:00' })).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_STATE', field: ['salesSessionId'] })]);

    const otherHub = await t.as({ role: 'hub', hubId: await createHub(t.api, 'Hub B') });
    expect((await update({ salesSessionId: open.id, closesAt: '2026-11-30T18:00:00+01:00' }, otherHub)).userErrors).toEqual([expect.objectContaining({ code: 'FORBIDDEN' })]);
    expect((await update({ salesSessionId: randomUUID(), closesAt: '2026-11-30T18:00:00+01:00' })).userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND' })]);
  });
});
