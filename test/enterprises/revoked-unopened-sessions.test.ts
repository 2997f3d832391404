// A producer that revokes a hub takes its products out of the hub's sessions that have not opened
// yet: no one has bought from them, and the hub could otherwise have made a year of sessions ahead
// while approved. Sessions open now sell on as they are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { approveHub, checkout, createHub, createProducer, createProduct } from '../support/scenarios.js';
import { lockedElsewhere } from '../support/locked-elsewhere.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitForLockWait } from '../support/wait.js';

const REVOKE = 'mutation ($input: HubApprovalInput!) { revokeHub(input: $input) { userErrors { code } } }';
const RESTORE = 'mutation ($input: OfferRefInput!) { restoreOffer(input: $input) { offer { withdrawnAt } userErrors { field code } } }';
const ADD_OFFERS = `mutation ($input: AddOffersInput!) { addOffers(input: $input) { offers { id withdrawnAt } userErrors { field code } } }`;
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

  const setup = async (name: string) => {
    const farm = await createProducer(t.api, `Farm ${name}`);
    const other = await createProducer(t.api, `Other ${name}`);
    const hub = await createHub(t.api, `Hub ${name}`);
    const carrots = await createProduct(t.api, farm, { name: `Carrots ${name}`, onHand: '10' });
    const eggs = await createProduct(t.api, other, { name: `Eggs ${name}`, onHand: '10' });
    for (const producer of [farm, other]) await approveHub(t.api, producer, hub);
    const asHub = await t.as({ role: 'hub', hubId: hub });
    const asFarm = await t.as({ role: 'producer', producerId: farm });
    const session = async (opensAt: string, closesAt: string, products: string[]) => {
      const made = await asHub.data<{ createSalesSession: { salesSession: { id: string; offers: { id: string; product: { id: string } }[] }; userErrors: unknown[] } }>(op.CREATE_SALES_SESSION, {
        input: { hubId: hub, opensAt, closesAt, timeZone: 'Europe/Paris', offers: products.map((productId) => ({ productId, price: { amount: 100, currency: 'EUR' } })) },
      });
      expect(made.createSalesSession.userErrors).toEqual([]);
      const { id, offers } = made.createSalesSession.salesSession;
      return { id, offerFor: (product: string) => offers.find((o) => o.product.id === product)!.id };
    };
    return { farm, other, hub, carrots, eggs, asHub, asFarm, session };
  };

  it('changes nothing when repeated: the offers the operator added since stay', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await setup('repeat');
    const ahead = await w.session('2026-12-21T08:00:00+01:00', '2026-12-21T20:00:00+01:00', [w.eggs]);
    expect((await w.asFarm.data<{ revokeHub: { userErrors: unknown[] } }>(REVOKE, { input: { producerId: w.farm, hubId: w.hub } })).revokeHub.userErrors).toEqual([]);
    // The operator (who may offer any producer's products) puts the carrots in the coming session.
    const added = await t.api.data<{ addOffers: { offers: { id: string; withdrawnAt: string | null }[]; userErrors: unknown[] } }>(ADD_OFFERS, {
      input: { salesSessionId: ahead.id, offers: [{ productId: w.carrots, price: { amount: 100, currency: 'EUR' } }] },
    });
    expect(added.addOffers.userErrors).toEqual([]);
    // The farm's back office retries its revokeHub (README: a repeat changes nothing).
    expect((await w.asFarm.data<{ revokeHub: { userErrors: unknown[] } }>(REVOKE, { input: { producerId: w.farm, hubId: w.hub } })).revokeHub.userErrors).toEqual([]);
    const { rows } = await t.db.query('SELECT withdrawn_at FROM offer WHERE id = $1', [added.addOffers.offers[0]!.id]);
    const events = await t.db.query("SELECT 1 FROM domain_event WHERE sales_session_id = $1 AND kind = 'WITHDRAWN'", [ahead.id]);
    expect({ withdrawnAt: rows[0].withdrawn_at, withdrawnEvents: events.rowCount }).toEqual({ withdrawnAt: null, withdrawnEvents: 0 });
  });

  it('leaves the offers of a session that opened, and sold, while it waited for its lock', async () => {
    t.clock.set('2026-11-30T07:59:59+01:00');
    const w = await setup('opening');
    const s = await w.session('2026-11-30T08:00:00+01:00', '2026-11-30T20:00:00+01:00', [w.carrots, w.eggs]);
    // A checkout in flight at the opening holds the session FOR KEY SHARE (here: held by the test):
    // the revocation's FOR UPDATE waits for it, further checkouts (KEY SHARE) do not.
    const held = await lockedElsewhere(t.db, 'SELECT 1 FROM sales_session WHERE id = $1 FOR KEY SHARE', [s.id]);
    let revoked;
    try {
      revoked = w.asFarm.request<{ revokeHub: { userErrors: unknown[] } }>(REVOKE, { input: { producerId: w.farm, hubId: w.hub } });
      await waitForLockWait(t.db, 'the revocation to wait for the session');
      // The session opens; a customer buys the farm's carrots in it.
      t.clock.set('2026-11-30T08:00:30+01:00');
      const bought = await checkout(w.asHub, s.id, 'ali', [{ offerId: s.offerFor(w.carrots), quantity: '1' }]);
      expect(bought.userErrors).toEqual([]);
    } finally {
      await held.release();
    }
    expect((await revoked)!.errors).toBeUndefined();
    const { rows } = await t.db.query('SELECT withdrawn_at FROM offer WHERE id = $1', [s.offerFor(w.carrots)]);
    expect(rows[0].withdrawn_at).toBeNull();
  });

  it("answers an offer added as it revokes as if the revocation went first, not with a deadlock", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const w = await setup('deadlock');
    const ahead = await w.session('2026-12-21T08:00:00+01:00', '2026-12-21T20:00:00+01:00', [w.eggs]);
    // revokeHub paused between its DELETE (approval row locked) and the withdrawal.
    const { revocation } = t.app.services.enterprises as unknown as { revocation: { revoked: (...args: unknown[]) => Promise<void> } };
    const original = revocation.revoked.bind(revocation);
    let go!: () => void;
    const gate = new Promise<void>((resolve) => (go = resolve));
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    revocation.revoked = async (...args: unknown[]) => {
      reached();
      await gate;
      return original(...args);
    };
    try {
      const revoked = w.asFarm.request<{ revokeHub: { userErrors: unknown[] } }>(REVOKE, { input: { producerId: w.farm, hubId: w.hub } });
      await atGate;
      // The hub adds the farm's carrots: it waits for the session, which the revocation locked first.
      const added = w.asHub.request<{ addOffers: { userErrors: { code: string }[] } }>(ADD_OFFERS, {
        input: { salesSessionId: ahead.id, offers: [{ productId: w.carrots, price: { amount: 100, currency: 'EUR' } }] },
      });
      await waitForLockWait(t.db, 'addOffers to wait for the session');
      go();
      const [r, a] = await Promise.all([revoked, added]);
      // No deadlock answered as an outage: the revocation went first, so the hub may not add them.
      expect(r.errors).toBeUndefined();
      expect(r.data?.revokeHub.userErrors).toEqual([]);
      const addCodes = [...(a.errors ?? []).map((e) => (e.extensions as { code?: string } | undefined)?.code), ...(a.data?.addOffers.userErrors ?? []).map((e) => e.code)];
      expect(addCodes).toEqual(['FORBIDDEN']);
    } finally {
      revocation.revoked = original;
      go();
    }
  });
});
