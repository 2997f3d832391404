// A producer that revokes a hub takes its products out of the hub's sessions that have not opened
// yet: no one has bought from them, and the hub could otherwise have made a year of sessions ahead
// while approved. Sessions open now sell on as they are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { approveHub, checkout, createHub, createProducer, createProduct } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const REVOKE = 'mutation ($input: HubApprovalInput!) { revokeHub(input: $input) { userErrors { code } } }';
const RESTORE = 'mutation ($input: OfferRefInput!) { restoreOffer(input: $input) { offer { withdrawnAt } userErrors { field code } } }';
const OFFERS = `query ($id: ID!) { salesSession(id: $id) { offers(includeWithdrawn: true) { id product { id } withdrawnAt } } }`;

describe("a revoked hub's sessions", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it("lose the producer's offers where they have not opened, and sell on where they have", async () => {
    const [farm, other] = [await createProducer(t.api, 'Farm'), await createProducer(t.api, 'Other farm')];
    const hub = await createHub(t.api, 'Hub');
    const carrots = await createProduct(t.api, farm, { name: 'Carrots', onHand: '10' });
    const eggs = await createProduct(t.api, other, { name: 'Eggs', onHand: '10' });
    for (const producer of [farm, other]) await approveHub(t.api, producer, hub);
    const asHub = await t.as({ role: 'hub', hubId: hub });
    const session = async (opensAt: string, closesAt: string) => {
      const made = await asHub.data<{ createSalesSession: { salesSession: { id: string; offers: { id: string; product: { id: string } }[] }; userErrors: unknown[] } }>(op.CREATE_SALES_SESSION, {
        input: { hubId: hub, opensAt, closesAt, timeZone: 'Europe/Paris', offers: [carrots, eggs].map((productId) => ({ productId, price: { amount: 100, currency: 'EUR' } })) },
      });
      expect(made.createSalesSession.userErrors).toEqual([]);
      const { id, offers } = made.createSalesSession.salesSession;
      return { id, offerFor: (product: string) => offers.find((o) => o.product.id === product)!.id };
    };
    // Open now, and one made a month ahead.
    const open = await session('2026-11-23T08:00:00+01:00', '2026-11-23T20:00:00+01:00');
    const ahead = await session('2026-12-21T08:00:00+01:00', '2026-12-21T20:00:00+01:00');

    const asFarm = await t.as({ role: 'producer', producerId: farm });
    expect((await asFarm.data<{ revokeHub: { userErrors: unknown[] } }>(REVOKE, { input: { producerId: farm, hubId: hub } })).revokeHub.userErrors).toEqual([]);

    const withdrawn = async (id: string) =>
      (await t.api.data<{ salesSession: { offers: { product: { id: string }; withdrawnAt: string | null }[] } }>(OFFERS, { id })).salesSession.offers
        .filter((o) => o.withdrawnAt !== null).map((o) => o.product.id);
    expect(await withdrawn(open.id)).toEqual([]);
    expect(await withdrawn(ahead.id)).toEqual([carrots]);
    // Storefronts watching the session are told (WITHDRAWN, naming it).
    const { rows } = await t.db.query("SELECT kind FROM domain_event WHERE sales_session_id = $1 AND product_id = $2 AND kind = 'WITHDRAWN'", [ahead.id, carrots]);
    expect(rows).toHaveLength(1);
    // The open session sells the producer's carrots on.
    expect((await checkout(asHub, open.id, 'ali', [{ offerId: open.offerFor(carrots), quantity: '1' }])).userErrors).toEqual([]);

    // The hub cannot put them back while revoked; once approved again, it may.
    const restore = () => asHub.data<{ restoreOffer: { userErrors: { code: string }[] } }>(RESTORE, { input: { offerId: ahead.offerFor(carrots) } });
    expect((await restore()).restoreOffer.userErrors.map((e) => e.code)).toEqual(['FORBIDDEN']);
    // When the session opens, it sells the other producer's eggs and not the carrots.
    t.clock.set('2026-12-21T09:00:00+01:00');
    expect((await checkout(asHub, ahead.id, 'bea', [{ offerId: ahead.offerFor(eggs), quantity: '1' }])).userErrors).toEqual([]);
    expect((await checkout(asHub, ahead.id, 'bea', [{ offerId: ahead.offerFor(carrots), quantity: '1' }])).userErrors).not.toEqual([]);
    await approveHub(t.api, farm, hub);
    expect((await restore()).restoreOffer.userErrors).toEqual([]);
  });
});
