// A session's offers change while it sells: a hub adds a product a producer brought, withdraws one
// whose crop failed, and puts it back. Storefronts see each change in the catalogue and live;
// checkouts see it at once, also one that read the offer just before it was withdrawn.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLClient } from '../support/graphql.js';
import { expectStockConsistent } from '../support/invariants.js';
import { lockedElsewhere } from '../support/locked-elsewhere.js';
import { adjustStock, approveHub, checkout, createHub, createProducer, createProduct, createSession, stockOf, type UserErrorShape } from '../support/scenarios.js';
import { AVAILABILITY, type AvailabilityEventShape, eventsHandedOut, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor, waitForLockWait } from '../support/wait.js';

const OPEN = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00' };

const ADD_OFFERS = `mutation ($input: AddOffersInput!) { addOffers(input: $input) {
  salesSession { id } offers { id product { name } price { amount currency } cap available withdrawnAt }
  userErrors { field message code } } }`;
const WITHDRAW_OFFER = 'mutation ($input: OfferRefInput!) { withdrawOffer(input: $input) { offer { id available withdrawnAt } userErrors { field message code } } }';
const RESTORE_OFFER = 'mutation ($input: OfferRefInput!) { restoreOffer(input: $input) { offer { id available withdrawnAt } userErrors { field message code } } }';
const CATALOGUE = `query ($id: ID!, $all: Boolean) { salesSession(id: $id) {
  offers(includeWithdrawn: $all) { id product { name } available withdrawnAt } } }`;

interface OfferShape {
  id: string;
  product: { name: string };
  price: { amount: number; currency: string };
  cap: string | null;
  available: string;
  withdrawnAt: string | null;
}
type AddOffersPayload = { salesSession: { id: string } | null; offers: OfferShape[] | null; userErrors: UserErrorShape[] };
type OfferPayload = { offer: { id: string; available: string; withdrawnAt: string | null } | null; userErrors: UserErrorShape[] };

describe('changing the offers of a session that sells', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  const addOffers = async (api: GraphQLClient, salesSessionId: string, offers: Record<string, unknown>[]) =>
    (await api.data<{ addOffers: AddOffersPayload }>(ADD_OFFERS, { input: { salesSessionId, offers } })).addOffers;
  const withdraw = async (offerId: string, api: GraphQLClient = t.api) =>
    (await api.data<{ withdrawOffer: OfferPayload }>(WITHDRAW_OFFER, { input: { offerId } })).withdrawOffer;
  const restore = async (offerId: string) => (await t.api.data<{ restoreOffer: OfferPayload }>(RESTORE_OFFER, { input: { offerId } })).restoreOffer;
  const catalogue = async (sessionId: string, all?: boolean) =>
    (await t.api.data<{ salesSession: { offers: { id: string; product: { name: string }; available: string; withdrawnAt: string | null }[] } }>(
      CATALOGUE, { id: sessionId, all },
    )).salesSession.offers;
  const offerEvents = async (sessionId: string) =>
    (await t.db.query<{ kind: string }>('SELECT kind FROM domain_event WHERE sales_session_id = $1 ORDER BY id', [sessionId])).rows.map((r) => r.kind);

  /** Where a storefront that has seen everything so far resumes: once every event has its position. */
  const seenSoFar = async () => {
    await waitFor('every event to be positioned', async () =>
      (await t.db.query('SELECT 1 FROM domain_event WHERE position IS NULL LIMIT 1')).rowCount === 0 ? true : undefined);
    return (await t.app.events.replayableRange({ owners: [] })).newest;
  };

  /** A producer with carrots on sale at a hub, and leeks not yet offered; another hub sells both. */
  async function market(name: string) {
    const producer = await createProducer(t.api, `${name} farm`);
    const carrots = await createProduct(t.api, producer, { name: `${name} carrots`, unit: 'kg', onHand: '50' });
    const leeks = await createProduct(t.api, producer, { name: `${name} leeks`, unit: 'kg', onHand: '30' });
    const hub = await createHub(t.api, `${name} hub`);
    const session = await createSession(t.api, hub, { ...OPEN, products: [carrots] });
    const other = await createSession(t.api, await createHub(t.api, `${name} other hub`), { ...OPEN, products: [carrots, leeks] });
    return { producer, carrots, leeks, hub, session, other };
  }

  it('adds a product: listed after the others, on sale at once, and announced to storefronts already watching', async () => {
    const { carrots, leeks, session, other } = await market('Added');
    // The market's stock, handed out before the storefront subscribes, is not the storefront's to get.
    await eventsHandedOut(t.app);
    const storefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: session.id }, { servedBy: t.app });
    try {
      const added = await addOffers(t.api, session.id, [{ productId: leeks, price: { amount: 320, currency: 'EUR' }, cap: '20' }]);
      expect(added.userErrors).toEqual([]);
      const leekOffer = added.offers![0]!;
      expect(leekOffer).toMatchObject({ product: { name: 'Added leeks' }, price: { amount: 320, currency: 'EUR' }, cap: '20', available: '20', withdrawnAt: null });
      expect((await catalogue(session.id)).map((o) => o.product.name)).toEqual(['Added carrots', 'Added leeks']);

      // The storefront learns of the new offer, then of a hold of its product at another hub.
      const [announced] = await storefront.waitForCount(1);
      expect(announced).toMatchObject({ available: '20', offer: { id: leekOffer.id, available: '20' } });
      expect((await checkout(t.api, other.id, 'ola', [{ offerId: other.offerFor(leeks), quantity: '15' }])).userErrors).toEqual([]);
      const [, afterHold] = await storefront.waitForCount(2);
      expect(afterHold).toMatchObject({ available: '15', offer: { id: leekOffer.id } });

      const bought = await checkout(t.api, session.id, 'ada', [{ offerId: leekOffer.id, quantity: '5' }, { offerId: session.offerFor(carrots), quantity: '1' }]);
      expect(bought.userErrors).toEqual([]);
      expect(await stockOf(t.api, leeks)).toMatchObject({ held: '20', available: '10' });

      // A retry of the request whose answer was lost adds nothing, and answers with the offer.
      const again = await addOffers(t.api, session.id, [{ productId: leeks, price: { amount: 320, currency: 'EUR' }, cap: '20.000' }]);
      expect(again.userErrors).toEqual([]);
      expect(again.offers!.map((o) => o.id)).toEqual([leekOffer.id]);
      expect(await offerEvents(session.id)).toEqual(['OFFERED']);

      // A storefront resuming from before the addition replays it.
      const resumed = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: session.id, after: String(Number(announced!.id) - 1) });
      try {
        const [replayed] = await resumed.waitForCount(1);
        expect(replayed).toMatchObject({ id: announced!.id, offer: { id: leekOffer.id } });
      } finally {
        await resumed.close();
      }
    } finally {
      await storefront.close();
    }
    await expectStockConsistent(t.db);
  });

  it('refuses, changing nothing: another price for a product on offer, a producer that has not approved the hub, a cap off the steps, a closed session', async () => {
    const { producer, carrots, leeks, hub, session } = await market('Refused');
    const before = await catalogue(session.id, true);

    const otherPrice = await addOffers(t.api, session.id, [{ productId: carrots, price: { amount: 999, currency: 'EUR' } }]);
    expect(otherPrice.offers).toBeNull();
    expect(otherPrice.userErrors).toEqual([{
      code: 'INVALID_INPUT',
      field: ['offers', '0', 'productId'],
      message: `the product is already offered in this session ("${session.offerFor(carrots)}"): updateOfferPrice and updateOfferCap change it`,
    }]);

    const asHub = await t.as({ role: 'hub', hubId: hub });
    const unapproved = await addOffers(asHub, session.id, [{ productId: leeks, price: { amount: 300, currency: 'EUR' } }]);
    expect(unapproved.userErrors).toMatchObject([{ code: 'FORBIDDEN', field: ['offers', '0', 'productId'] }]);
    await approveHub(t.api, producer, hub);

    // Leeks sell by the half kilo: a cap of 0.7 kg could never be reached.
    const { updateProduct } = await t.api.data<{ updateProduct: { userErrors: UserErrorShape[] } }>(
      'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { field message code } } }',
      { input: { productId: leeks, sellableStep: '0.5' } },
    );
    expect(updateProduct.userErrors).toEqual([]);
    const offSteps = await addOffers(asHub, session.id, [{ productId: leeks, price: { amount: 300, currency: 'EUR' }, cap: '0.7' }]);
    expect(offSteps.userErrors).toEqual([
      { code: 'INVALID_INPUT', field: ['offers', '0', 'cap'], message: "must be a whole number of the product's sellable steps (0.5 kg)" },
    ]);
    const empty = await addOffers(asHub, session.id, []);
    expect(empty.userErrors).toEqual([{ code: 'INVALID_INPUT', field: ['offers'], message: 'give at least one offer' }]);
    expect(await catalogue(session.id, true)).toEqual(before);

    await t.api.data('mutation ($input: CloseSalesSessionInput!) { closeSalesSession(input: $input) { userErrors { code } } }', { input: { salesSessionId: session.id } });
    const closed = await addOffers(asHub, session.id, [{ productId: leeks, price: { amount: 300, currency: 'EUR' } }]);
    expect(closed.userErrors).toEqual([{ code: 'INVALID_STATE', field: ['salesSessionId'], message: 'the session has closed: it sells nothing more' }]);
    const closedWithdraw = await withdraw(session.offerFor(carrots), asHub);
    expect(closedWithdraw.userErrors).toEqual([{ code: 'INVALID_STATE', field: ['offerId'], message: 'the session has closed: it sells nothing more' }]);
    expect(await catalogue(session.id, true)).toEqual(before.map((o) => ({ ...o, available: '0' })));
    // The close's own event for the one offer on sale, and no offer change.
    expect(await offerEvents(session.id)).toEqual(['SESSION_CLOSED']);
  });

  it('withdraws an offer: it reads 0, leaves the list, refuses checkouts, keeps the orders it had; restored, it sells again', async () => {
    const { carrots, leeks, session, other } = await market('Withdrawn');
    const added = await addOffers(t.api, session.id, [{ productId: leeks, price: { amount: 300, currency: 'EUR' } }]);
    const leekOffer = added.offers![0]!.id;
    const carrotOffer = session.offerFor(carrots);
    const kept = await checkout(t.api, session.id, 'kim', [{ offerId: carrotOffer, quantity: '4' }]);
    expect(kept.userErrors).toEqual([]);
    // The hold's event, handed out before the storefront subscribes, is not the storefront's to get.
    await eventsHandedOut(t.app);

    const storefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: session.id }, { servedBy: t.app });
    try {
      const withdrawn = await withdraw(carrotOffer);
      expect(withdrawn.userErrors).toEqual([]);
      expect(withdrawn.offer).toMatchObject({ id: carrotOffer, available: '0', withdrawnAt: '2026-11-23T08:00:00Z' });
      const [told] = await storefront.waitForCount(1);
      expect(told).toMatchObject({ available: '0', offer: { id: carrotOffer, available: '0' } });

      expect((await catalogue(session.id)).map((o) => o.id)).toEqual([leekOffer]);
      expect((await catalogue(session.id, true)).map((o) => [o.id, o.available])).toEqual([[carrotOffer, '0'], [leekOffer, '30']]);

      const refused = await checkout(t.api, session.id, 'lea', [{ offerId: carrotOffer, quantity: '1' }, { offerId: leekOffer, quantity: '1' }]);
      expect(refused).toEqual({
        customerOrder: null,
        userErrors: [{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'quantity'], message: '"Withdrawn carrots" was withdrawn from sale in this session' }],
      });
      // Nothing held for the refused basket; Kim's order keeps its 4 kg.
      expect(await stockOf(t.api, carrots)).toMatchObject({ held: '4', available: '46' });
      const { rows } = await t.db.query('SELECT status FROM customer_order WHERE id = $1', [kept.customerOrder!.id]);
      expect(rows).toEqual([{ status: 'PENDING_PAYMENT' }]);

      // Carrots sold at the other hub no longer reach this storefront; leeks sold there do.
      expect((await checkout(t.api, other.id, 'max', [{ offerId: other.offerFor(carrots), quantity: '2' }])).userErrors).toEqual([]);
      expect((await checkout(t.api, other.id, 'max', [{ offerId: other.offerFor(leeks), quantity: '3' }])).userErrors).toEqual([]);
      const [, next] = await storefront.waitForCount(2);
      expect(next).toMatchObject({ available: '27', offer: { id: leekOffer } });

      // Withdrawing it again answers as the first did.
      expect(await withdraw(carrotOffer)).toEqual(withdrawn);

      t.clock.advance({ minutes: 5 });
      const restored = await restore(carrotOffer);
      expect(restored).toEqual({ offer: { id: carrotOffer, available: '44', withdrawnAt: null }, userErrors: [] });
      const [, , back] = await storefront.waitForCount(3);
      expect(back).toMatchObject({ available: '44', offer: { id: carrotOffer } });
      expect((await checkout(t.api, session.id, 'lea', [{ offerId: carrotOffer, quantity: '1' }])).userErrors).toEqual([]);
      expect(await restore(carrotOffer)).toEqual({ ...restored, offer: { ...restored.offer, available: '43' } });
      expect(await offerEvents(session.id)).toEqual(['OFFERED', 'WITHDRAWN', 'OFFERED']);
    } finally {
      await storefront.close();
    }
    await expectStockConsistent(t.db);
  });

  it('refuses a checkout that read the offer just before it was withdrawn, holding nothing', async () => {
    const { carrots, session } = await market('Raced');
    const offer = session.offerFor(carrots);
    // A first order makes the producer's order in the session: the next checkout then writes at
    // once, without a transaction of its own, in the statement that must see the withdrawal.
    expect((await checkout(t.api, session.id, 'first', [{ offerId: offer, quantity: '1' }])).userErrors).toEqual([]);

    // The withdrawal takes the session, then waits to write the offer (locked here) ...
    const gate = await lockedElsewhere(t.db, 'SELECT 1 FROM offer WHERE id = $1 FOR NO KEY UPDATE', [offer]);
    const withdrawing = withdraw(offer);
    await waitForLockWait(t.db, 'the withdrawal to wait for the offer');
    // ... while a checkout reads the offer on sale and waits for the session to write its order.
    const late = checkout(t.api, session.id, 'late', [{ offerId: offer, quantity: '2' }]);
    await waitForLockWait(t.db, 'the checkout to wait for the session', 2);
    await gate.release();

    expect((await withdrawing).userErrors).toEqual([]);
    expect(await late).toEqual({
      customerOrder: null,
      userErrors: [{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'quantity'], message: '"Raced carrots" was withdrawn from sale in this session' }],
    });
    expect(await stockOf(t.api, carrots)).toMatchObject({ held: '1', available: '49' });
    const { rows } = await t.db.query("SELECT count(*)::int AS orders FROM customer_order WHERE sales_session_id = $1 AND customer_ref = 'late'", [session.id]);
    expect(rows).toEqual([{ orders: 0 }]);
    await expectStockConsistent(t.db);
  });

  it('answers a keyed retry with the offers it added, even once one was withdrawn, and refuses the key for another request', async () => {
    const { leeks, session } = await market('Keyed');
    const request = (offers: Record<string, unknown>[], idempotencyKey: string) =>
      t.api.data<{ addOffers: AddOffersPayload }>(ADD_OFFERS, { input: { salesSessionId: session.id, offers, idempotencyKey } });
    const leekOffer = [{ productId: leeks, price: { amount: 300, currency: 'EUR' } }];
    const first = (await request(leekOffer, ' week-48 leeks ')).addOffers;
    expect(first.userErrors).toEqual([]);
    const added = first.offers![0]!.id;
    expect((await withdraw(added)).userErrors).toEqual([]);

    // Without the key this is refused (the offer was withdrawn); with it, it is the first request.
    expect((await addOffers(t.api, session.id, leekOffer)).userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['offers', '0', 'productId'] }]);
    const retried = (await request(leekOffer, 'week-48 leeks')).addOffers;
    expect(retried.userErrors).toEqual([]);
    expect(retried.offers).toMatchObject([{ id: added, available: '0', withdrawnAt: expect.any(String) }]);

    const other = (await request([{ productId: leeks, price: { amount: 310, currency: 'EUR' } }], 'week-48 leeks')).addOffers;
    expect(other).toEqual({ salesSession: null, offers: null, userErrors: [{
      code: 'IDEMPOTENCY_CONFLICT', field: ['idempotencyKey'], message: 'this idempotency key was already used for a different addition of offers',
    }] });
    expect(await offerEvents(session.id)).toEqual(['OFFERED', 'WITHDRAWN']);
  });

  describe('an offer added as a storefront subscribes', () => {
    /**
     * Leeks are added as the subscription begins, before it opens its stream, and this replica
     * hands their OFFERED event to its subscribers before the stream opens: the stream can only
     * learn of them from the database. Resuming, they are added as its `after` is checked (where
     * an earlier version had already read the offers); live, once it has found the session.
     */
    async function addedWhileSubscribing(name: string, after: boolean) {
      const { carrots, leeks, session, other } = await market(name);
      const hub = t.app.events;
      const sessions = t.app.services.salesSessions;
      const [replayableRange, findSalesSession] = [hub.replayableRange.bind(hub), sessions.findSalesSession.bind(sessions)];
      const restore = () => Object.assign(hub, { replayableRange }) && Object.assign(sessions, { findSalesSession });
      let leekOffer = '';
      const addLeeks = async () => {
        restore();
        leekOffer = (await addOffers(t.api, session.id, [{ productId: leeks, price: { amount: 300, currency: 'EUR' } }])).offers![0]!.id;
        // The hub's own mark of what it has handed out (private: nothing else needs it).
        const handedOut = () => BigInt((hub as unknown as { lastPosition: string }).lastPosition);
        await waitFor('this replica to pass the OFFERED event', async () => {
          // Positioned by the relay just after the addition commits: read until it is.
          const [offered] = (await t.db.query<{ position: string | null }>("SELECT position::text AS position FROM domain_event WHERE kind = 'OFFERED' AND sales_session_id = $1", [session.id])).rows;
          return offered?.position && handedOut() >= BigInt(offered.position) ? true : undefined;
        });
      };
      const before = await seenSoFar();
      const subscribed = hub.subscriberCount;
      if (after) hub.replayableRange = async (owners) => addLeeks().then(() => replayableRange(owners));
      else sessions.findSalesSession = async (ctx, id) => addLeeks().then(() => findSalesSession(ctx, id));
      const storefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: session.id, ...(after ? { after: before } : {}) });
      try {
        // The server subscribes (adding the leeks on the way) after the socket is connected.
        await waitFor('the stream to open', async () => (hub.subscriberCount > subscribed ? true : undefined));
        expect((await checkout(t.api, other.id, 'ola', [{ offerId: other.offerFor(leeks), quantity: '5' }])).userErrors).toEqual([]);
        expect((await checkout(t.api, other.id, 'ola', [{ offerId: other.offerFor(carrots), quantity: '1' }])).userErrors).toEqual([]);
        // Resuming, it replays the addition; live, the addition came before it began (the
        // storefront's catalogue, read now, lists the leeks).
        const announced = after ? [[leekOffer, '30']] : [];
        const events = await storefront.waitForCount(announced.length + 2);
        expect(events.map((e) => [e.offer.id, e.available])).toEqual([...announced, [leekOffer, '25'], [session.offerFor(carrots), '49']]);
      } finally {
        restore();
        await storefront.close();
      }
    }

    it('streams its changes to a storefront subscribing live', () => addedWhileSubscribing('Live', false));
    it('streams its changes to a storefront resuming with after:', () => addedWhileSubscribing('Resumed', true));
  });

  describe('a storefront resuming, or subscribing while events wait for their positions', () => {
    const ids = (events: AvailabilityEventShape[]) => events.map((e) => [e.offer.id, e.available]);

    it("replays no change of a product from before it was added", async () => {
      const { carrots, leeks, session, other } = await market('Replayed');
      const after = await seenSoFar();
      expect((await checkout(t.api, other.id, 'ola', [{ offerId: other.offerFor(leeks), quantity: '5' }])).userErrors).toEqual([]);
      const leekOffer = (await addOffers(t.api, session.id, [{ productId: leeks, price: { amount: 300, currency: 'EUR' } }])).offers![0]!.id;
      // A last change, of carrots (on sale throughout): anything handed out wrongly comes before it.
      expect((await checkout(t.api, other.id, 'ola', [{ offerId: other.offerFor(carrots), quantity: '1' }])).userErrors).toEqual([]);
      const storefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: session.id, after });
      try {
        expect(ids(await storefront.waitForCount(2))).toEqual([[leekOffer, '25'], [session.offerFor(carrots), '49']]);
      } finally {
        await storefront.close();
      }
    });

    it('replays no change of a product while its offer was withdrawn, and the restore', async () => {
      const { carrots, session, other } = await market('Restored');
      const carrotOffer = session.offerFor(carrots);
      expect((await withdraw(carrotOffer)).userErrors).toEqual([]);
      // The storefront saw the withdrawal (0), and resumes after it.
      const after = await seenSoFar();
      expect((await checkout(t.api, other.id, 'ola', [{ offerId: other.offerFor(carrots), quantity: '3' }])).userErrors).toEqual([]);
      expect((await restore(carrotOffer)).userErrors).toEqual([]);
      expect((await checkout(t.api, other.id, 'ola', [{ offerId: other.offerFor(carrots), quantity: '1' }])).userErrors).toEqual([]);
      const storefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: session.id, after });
      try {
        // The restore, then the last hold (the hold while withdrawn is not handed out).
        expect(ids(await storefront.waitForCount(2))).toEqual([[carrotOffer, '47'], [carrotOffer, '46']]);
      } finally {
        await storefront.close();
      }
    });

    it('hands a live storefront no change of a product from before it was added, though it read the addition first', async () => {
      const { carrots, leeks, session, other } = await market('Unpositioned');
    // The market's stock, handed out before the relay is held (and so before the storefront subscribes), is not the storefront's to get.
    await eventsHandedOut(t.app);
      // The relay positions events one replica at a time under this advisory lock
      // (position_pending_events(), Migration20261123231500): held here, commits go on and
      // their events wait for positions.
      const relay = await t.db.connect();
      let storefront: Awaited<ReturnType<typeof subscribe<AvailabilityEventShape>>> | undefined;
      let leekOffer = '';
      await relay.query('SELECT pg_advisory_lock(7146205332)');
      try {
        expect((await checkout(t.api, other.id, 'ola', [{ offerId: other.offerFor(leeks), quantity: '5' }])).userErrors).toEqual([]);
        leekOffer = (await addOffers(t.api, session.id, [{ productId: leeks, price: { amount: 300, currency: 'EUR' } }])).offers![0]!.id;
        const subscribed = t.app.events.subscriberCount;
        storefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: session.id });
        await waitFor('the stream to open', async () => (t.app.events.subscriberCount > subscribed ? true : undefined));
      } finally {
        await relay.query('SELECT pg_advisory_unlock(7146205332)');
        relay.release();
      }
      try {
        expect((await checkout(t.api, other.id, 'ola', [{ offerId: other.offerFor(carrots), quantity: '1' }])).userErrors).toEqual([]);
        expect(ids(await storefront.waitForCount(2))).toEqual([[leekOffer, '25'], [session.offerFor(carrots), '49']]);
      } finally {
        await storefront.close();
      }
    });
  });

  it('keeps the offer events off webhooks', async () => {
    const { hub } = await market('Hooked');
    const { registerWebhook } = await t.api.data<{ registerWebhook: { userErrors: UserErrorShape[] } }>(
      'mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { userErrors { field message code } } }',
      { input: { url: 'https://trader.example.org/hook', kinds: ['OFFERED'], hubId: hub } },
    );
    expect(registerWebhook.userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['kinds', '0'] }]);
  });
});

describe('a storefront subscribing during a burst', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { SUBSCRIPTION_BUFFER: '5' } });
  });
  afterAll(() => t.stop());

  it('is not cut off for the other products\' events that arrive while its offers are read', async () => {
    const producer = await createProducer(t.api, 'Burst farm');
    const carrots = await createProduct(t.api, producer, { name: 'Burst carrots', unit: 'kg', onHand: '50' });
    const other = await createProduct(t.api, producer, { name: 'Burst apples', unit: 'kg', onHand: '50' });
    const session = await createSession(t.api, await createHub(t.api, 'Burst hub'), { ...OPEN, products: [carrots] });
    // The carrots' stock, handed out before the storefront subscribes, is not the storefront's to get.
    await eventsHandedOut(t.app);
    // The stream opens, then its offers' read waits: every product's events reach it meanwhile.
    const gate = await lockedElsewhere(t.db, 'LOCK TABLE offer IN ACCESS EXCLUSIVE MODE', []);
    const storefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: session.id }, { servedBy: t.app });
    try {
      await waitForLockWait(t.db, 'the subscription to read its offers');
      for (let i = 0; i < 6; i += 1) expect((await adjustStock(t.api, other, '1')).userErrors).toEqual([]);
      const newest = BigInt((await t.app.events.replayableRange({ owners: [] })).newest);
      const handedOut = () => BigInt((t.app.events as unknown as { lastPosition: string }).lastPosition);
      await waitFor('this replica to hand them out', async () => (handedOut() >= newest ? true : undefined));
    } finally {
      await gate.release();
    }
    try {
      expect((await adjustStock(t.api, carrots, '-1')).userErrors).toEqual([]);
      const [event] = await storefront.waitForCount(1);
      expect(event).toMatchObject({ available: '49', offer: { id: session.offerFor(carrots) } });
      expect(storefront.errors).toEqual([]);
    } finally {
      await storefront.close();
    }
  });
});
