// A hold past its expiry has expired, whether or not the scheduler has marked it yet: a checkout
// counts it free, and so does a change of the offer's cap, which must not be refused for stock a
// customer could buy at that very moment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approveHub, checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const CAP = 'mutation ($input: UpdateOfferCapInput!) { updateOfferCap(input: $input) { offer { cap available } userErrors { field message code } } }';

describe('a cap change and a hold that lapsed', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it('counts the lapsed hold as expired, as a checkout does: the cap goes below it, and the order is EXPIRED', async () => {
    const farm = await createProducer(t.api, 'Farm');
    const hub = await createHub(t.api, 'Hub');
    const leeks = await createProduct(t.api, farm, { name: 'Leeks', onHand: '10' });
    await approveHub(t.api, farm, hub);
    const s = await createSession(t.api, hub, { opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [leeks], caps: { [leeks]: '6' } });
    const offer = s.offerFor(leeks);
    const ann = await checkout(t.api, s.id, 'ann', [{ offerId: offer, quantity: '4' }]);
    expect(ann.userErrors).toEqual([]);
    // Past the hold's 15 minutes, no payment result, and the scheduler has not run.
    t.clock.advance({ minutes: 20 });

    const lowered = await t.api.data<{ updateOfferCap: { offer: { cap: string; available: string } | null; userErrors: unknown[] } }>(CAP, { input: { offerId: offer, cap: '2' } });
    expect(lowered.updateOfferCap).toMatchObject({ userErrors: [], offer: { cap: '2', available: '2' } });
    const { rows } = await t.db.query('SELECT status FROM customer_order WHERE id = $1', [ann.customerOrder!.id]);
    expect(rows).toEqual([{ status: 'EXPIRED' }]);
    // The new cap holds: 3 is over it, 2 is not.
    expect((await checkout(t.api, s.id, 'bob', [{ offerId: offer, quantity: '3' }])).userErrors.map((e) => e.code)).toEqual(['INSUFFICIENT_STOCK']);
    expect((await checkout(t.api, s.id, 'bob', [{ offerId: offer, quantity: '2' }])).userErrors).toEqual([]);
  });
  it("is not refused for its own lapsed hold when the product has many lapsed holds at other hubs (a flash sale there)", async () => {
    const farm = await createProducer(t.api, 'Farm F');
    const [hubA, hubB] = [await createHub(t.api, 'Hub FA'), await createHub(t.api, 'Hub FB')];
    const leeks = await createProduct(t.api, farm, { name: 'Leeks F', onHand: '1000' });
    for (const hub of [hubA, hubB]) await approveHub(t.api, farm, hub);
    const times = { opensAt: t.clock.now().toISOString(), closesAt: new Date(t.clock.now().getTime() + 3_600_000).toISOString(), products: [leeks] };
    const b = await createSession(t.api, hubB, times);
    // A flash sale at Hub B: 100 baskets abandoned at once, a batch of checkouts at a time.
    for (let i = 0; i < 100; i += 25) {
      const answers = await Promise.all(Array.from({ length: 25 }, (_, j) => checkout(t.api, b.id, `b${i + j}`, [{ offerId: b.offerFor(leeks), quantity: '1' }])));
      expect(answers.flatMap((a) => a.userErrors)).toEqual([]);
    }
    t.clock.advance({ seconds: 1 });
    const a = await createSession(t.api, hubA, { ...times, caps: { [leeks]: '6' } });
    const offer = a.offerFor(leeks);
    expect((await checkout(t.api, a.id, 'ann', [{ offerId: offer, quantity: '4' }])).userErrors).toEqual([]);
    // Every hold past its 15 minutes; the scheduler has not run.
    t.clock.advance({ minutes: 20 });
    const lowered = await t.api.data<{ updateOfferCap: { offer: { cap: string } | null; userErrors: unknown[] } }>(CAP, { input: { offerId: offer, cap: '2' } });
    expect(lowered.updateOfferCap).toMatchObject({ userErrors: [], offer: { cap: '2' } });
    // Hub B's lapsed holds are the scheduler's to expire, not the cap's.
    const { rows: [pending] } = await t.db.query<{ n: number }>("SELECT count(*)::int AS n FROM customer_order WHERE sales_session_id = $1 AND status = 'PENDING_PAYMENT'", [b.id]);
    expect(pending!.n).toBe(100);
  });
});
