// README: "revokeHub stops new sessions, not those already selling". A revoked hub must not be
// able to get round that by re-listing the producer's withdrawn offer or by moving the close of a
// session it already has years into the future: the revocation would then never take effect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import type { GraphQLClient } from '../support/graphql.js';
import { approveHub, createHub, createProducer, createProduct } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const WITHDRAW = 'mutation ($input: OfferRefInput!) { withdrawOffer(input: $input) { userErrors { code } } }';
const RESTORE = 'mutation ($input: OfferRefInput!) { restoreOffer(input: $input) { offer { withdrawnAt available } userErrors { field code } } }';
const MOVE = 'mutation ($input: UpdateSalesSessionInput!) { updateSalesSession(input: $input) { salesSession { closesAt } userErrors { field code } } }';
const CAP = 'mutation ($input: UpdateOfferCapInput!) { updateOfferCap(input: $input) { offer { cap } userErrors { field code } } }';
const REVOKE = 'mutation ($input: HubApprovalInput!) { revokeHub(input: $input) { userErrors { code } } }';

describe('a hub the producer revoked', () => {
  let t: TestApp;
  let farm: string;
  let hub: string;
  let carrots: string;
  let leeks: string;
  let asHub: GraphQLClient;
  let asFarm: GraphQLClient;
  let session: string;
  let carrotOffer: string;

  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    farm = await createProducer(t.api, 'Farm');
    hub = await createHub(t.api, 'Hub');
    carrots = await createProduct(t.api, farm, { name: 'Carrots', onHand: '10' });
    leeks = await createProduct(t.api, farm, { name: 'Leeks', onHand: '10' });
    await approveHub(t.api, farm, hub);
    asHub = await t.as({ role: 'hub', hubId: hub });
    asFarm = await t.as({ role: 'producer', producerId: farm });
    const made = await asHub.data<{ createSalesSession: { salesSession: { id: string; offers: { id: string; product: { id: string } }[] } } }>(op.CREATE_SALES_SESSION, {
      input: {
        hubId: hub, opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', timeZone: 'Europe/Paris',
        offers: [carrots, leeks].map((productId) => ({ productId, price: { amount: 100, currency: 'EUR' }, cap: '4' })),
      },
    });
    session = made.createSalesSession.salesSession.id;
    carrotOffer = made.createSalesSession.salesSession.offers.find((o) => o.product.id === carrots)!.id;
    // The hub takes the carrots off sale (a crop failed), then the farm stops selling through it.
    await asHub.data(WITHDRAW, { input: { offerId: carrotOffer } });
    await asFarm.data(REVOKE, { input: { producerId: farm, hubId: hub } });
  });
  afterAll(() => t.stop());

  it('cannot put the withdrawn offer of that producer back on sale', async () => {
    const { restoreOffer } = await asHub.data<{ restoreOffer: { offer: unknown; userErrors: { field: string[]; code: string }[] } }>(RESTORE, { input: { offerId: carrotOffer } });
    expect(restoreOffer.userErrors).toEqual([{ field: ['offerId'], code: 'FORBIDDEN' }]);
    const { rows } = await t.db.query('SELECT withdrawn_at FROM offer WHERE id = $1', [carrotOffer]);
    expect(rows[0].withdrawn_at).not.toBeNull();
  });

  it("cannot keep selling that producer's products for years by moving the session's close", async () => {
    const { updateSalesSession } = await asHub.data<{ updateSalesSession: { salesSession: unknown; userErrors: { field: string[]; code: string }[] } }>(MOVE, {
      input: { salesSessionId: session, closesAt: '2099-11-23T20:00:00+01:00' },
    });
    expect(updateSalesSession.userErrors).toEqual([{ field: ['closesAt'], code: 'FORBIDDEN' }]);
    const { rows } = await t.db.query('SELECT closes_at FROM sales_session WHERE id = $1', [session]);
    expect(new Date(rows[0].closes_at).toISOString()).toBe('2026-11-23T19:00:00.000Z');
  });

  it('cannot raise or lift the cap of an offer of that producer, but may lower it', async () => {
    const leekOffer = async () => (await t.db.query('SELECT id, cap::text FROM offer WHERE sales_session_id = $1 AND product_id = $2', [session, leeks])).rows[0];
    const { id } = await leekOffer();
    for (const cap of ['6', null]) {
      const { updateOfferCap } = await asHub.data<{ updateOfferCap: { userErrors: { field: string[]; code: string }[] } }>(CAP, { input: { offerId: id, cap } });
      expect(updateOfferCap.userErrors).toEqual([{ field: ['cap'], code: 'FORBIDDEN' }]);
    }
    expect((await leekOffer()).cap).toBe('4.000');
    const lowered = await asHub.data<{ updateOfferCap: { offer: { cap: string }; userErrors: unknown[] } }>(CAP, { input: { offerId: id, cap: '2' } });
    expect(lowered.updateOfferCap).toEqual({ offer: { cap: '2' }, userErrors: [] });
  });

  it('may still move the close earlier, and the operator may move it later', async () => {
    const earlier = await asHub.data<{ updateSalesSession: { userErrors: unknown[] } }>(MOVE, { input: { salesSessionId: session, closesAt: '2026-11-23T19:00:00+01:00' } });
    expect(earlier.updateSalesSession.userErrors).toEqual([]);
    const byOperator = await t.api.data<{ updateSalesSession: { userErrors: unknown[] } }>(MOVE, { input: { salesSessionId: session, closesAt: '2026-11-23T21:00:00+01:00' } });
    expect(byOperator.updateSalesSession.userErrors).toEqual([]);
  });
});
