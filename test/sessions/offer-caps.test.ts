// An offer may be capped: at most that much of its product is checked out in its session, however
// much the producer has. The cap is held as stock is: at once, under any concurrency, and given
// back the moment an order is released.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CANCEL_CUSTOMER_ORDER, CONFIRM_PAYMENT, CREATE_SALES_SESSION, FAIL_PAYMENT } from '../support/operations.js';
import { expectCapsConsistent, expectStockConsistent } from '../support/invariants.js';
import { adjustStock, checkout, createHub, createProducer, createProduct, createSession, orderMutation, stockOf, type UserErrorShape } from '../support/scenarios.js';
import { lockedElsewhere } from '../support/locked-elsewhere.js';
import { waitForLockWait } from '../support/wait.js';
import { AVAILABILITY, type AvailabilityEventShape, eventsHandedOut, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const OPEN = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00' };

describe('offer caps', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { DATABASE_POOL_SIZE: '32' } });
  });
  afterAll(() => t.stop());

  /** A product with `onHand` units, offered capped at `cap` by one hub and uncapped by another. */
  async function cappedSale(name: string, onHand: string, cap: string) {
    const producer = await createProducer(t.api, `${name} farm`);
    const product = await createProduct(t.api, producer, { name, unit: 'each', onHand });
    const capped = await createSession(t.api, await createHub(t.api, `${name} capped hub`), { ...OPEN, products: [product], caps: { [product]: cap } });
    const open = await createSession(t.api, await createHub(t.api, `${name} open hub`), { ...OPEN, products: [product] });
    return { product, capped, offer: capped.offerFor(product), open };
  }

  async function offerView(offerId: string, sessionId: string) {
    const { salesSession } = await t.api.data<{ salesSession: { offers: { id: string; cap: string | null; available: string }[] } }>(
      'query ($id: ID!) { salesSession(id: $id) { offers { id cap available } } }',
      { id: sessionId },
    );
    return salesSession.offers.find((o) => o.id === offerId)!;
  }

  it('sells no more than the cap in its session, tells the customer what is left, and leaves other hubs the rest', async () => {
    const { product, capped, offer, open } = await cappedSale('Asparagus', '20', '5');
    expect(await offerView(offer, capped.id)).toEqual({ id: offer, cap: '5', available: '5' });

    const first = await checkout(t.api, capped.id, 'ann', [{ offerId: offer, quantity: '3' }]);
    expect(first.userErrors).toEqual([]);
    expect(await offerView(offer, capped.id)).toMatchObject({ available: '2' });

    const past = await checkout(t.api, capped.id, 'bob', [{ offerId: offer, quantity: '3' }]);
    expect(past.customerOrder).toBeNull();
    expect(past.userErrors).toEqual([{
      code: 'INSUFFICIENT_STOCK',
      field: ['lines', '0', 'quantity'],
      message: 'only 2 each of "Asparagus" is left in this session (the hub offers 5 each), 3 was asked',
    }]);
    // Refused, nothing changed: the product still has what the first order left.
    expect(await stockOf(t.api, product)).toEqual({ onHand: '20', held: '3', committed: '0', available: '17' });

    const last = await checkout(t.api, capped.id, 'bob', [{ offerId: offer, quantity: '2' }]);
    expect(last.userErrors).toEqual([]);
    expect(await offerView(offer, capped.id)).toMatchObject({ available: '0' });

    // The other hub's offer is not capped: it sells the product's stock.
    const elsewhere = await checkout(t.api, open.id, 'cem', [{ offerId: open.offerFor(product), quantity: '15' }]);
    expect(elsewhere.userErrors).toEqual([]);
    expect(await stockOf(t.api, product)).toEqual({ onHand: '20', held: '20', committed: '0', available: '0' });
    await expectCapsConsistent(t.db);
    await expectStockConsistent(t.db);
  });

  it('shows the lower of the stock and what the cap leaves', async () => {
    const { capped, offer, open, product } = await cappedSale('Rhubarb', '4', '10');
    expect(await offerView(offer, capped.id)).toMatchObject({ cap: '10', available: '4' });
    expect((await checkout(t.api, open.id, 'dee', [{ offerId: open.offerFor(product), quantity: '3' }])).userErrors).toEqual([]);
    expect(await offerView(offer, capped.id)).toMatchObject({ available: '1' });
    // Short of stock, not of the cap: the stock's answer.
    const short = await checkout(t.api, capped.id, 'eve', [{ offerId: offer, quantity: '2' }]);
    expect(short.userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'quantity'], message: expect.stringContaining('only 1 each') }]);
  });

  it('gives the cap back when a payment fails, an order is cancelled or a hold expires, and keeps it for a paid order', async () => {
    const { capped, offer } = await cappedSale('Chard', '100', '4');
    const buy = async (who: string) => {
      const result = await checkout(t.api, capped.id, who, [{ offerId: offer, quantity: '1' }]);
      expect(result.userErrors).toEqual([]);
      return result.customerOrder!.id;
    };
    const [paid, failed, cancelled, lapsing] = [await buy('a'), await buy('b'), await buy('c'), await buy('d')];
    expect(await offerView(offer, capped.id)).toMatchObject({ available: '0' });

    expect((await orderMutation(t.api, CONFIRM_PAYMENT, paid)).userErrors).toEqual([]);
    expect(await offerView(offer, capped.id)).toMatchObject({ available: '0' });
    expect((await orderMutation(t.api, FAIL_PAYMENT, failed)).userErrors).toEqual([]);
    expect(await offerView(offer, capped.id)).toMatchObject({ available: '1' });
    expect((await orderMutation(t.api, CANCEL_CUSTOMER_ORDER, cancelled)).userErrors).toEqual([]);
    expect(await offerView(offer, capped.id)).toMatchObject({ available: '2' });
    await expectCapsConsistent(t.db);

    // The fourth hold lapses: a customer who needs its unit gets it at once, without waiting for
    // the scheduler (the checkout expires lapsed holds it counted).
    t.clock.advance({ minutes: 16 });
    const three = await checkout(t.api, capped.id, 'e', [{ offerId: offer, quantity: '3' }]);
    expect(three.userErrors).toEqual([]);
    const { rows } = await t.db.query('SELECT status FROM customer_order WHERE id = $1', [lapsing]);
    expect(rows).toEqual([{ status: 'EXPIRED' }]);
    expect(await offerView(offer, capped.id)).toMatchObject({ available: '0' });
    await expectCapsConsistent(t.db);
    await expectStockConsistent(t.db);
  });

  it('holds exactly the cap when 60 customers race for it over separate connections', async () => {
    const { capped, offer, product } = await cappedSale('Morels', '1000', '12');
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => checkout(t.api, capped.id, `racer-${i}`, [{ offerId: offer, quantity: '1' }])),
    );
    const held = results.filter((r) => r.customerOrder?.status === 'PENDING_PAYMENT');
    const refused = results.filter((r) => r.userErrors.some((e) => e.code === 'INSUFFICIENT_STOCK'));
    expect(held).toHaveLength(12);
    expect(refused).toHaveLength(48);
    expect(await stockOf(t.api, product)).toMatchObject({ held: '12', available: '988' });
    expect(await offerView(offer, capped.id)).toMatchObject({ available: '0' });
    await expectCapsConsistent(t.db);
    await expectStockConsistent(t.db);
  });

  it('takes baskets of several capped offers whole or not at all, whatever order their lines come in, under concurrency', async () => {
    const producer = await createProducer(t.api, 'Mushroom farm');
    const [ceps, chanterelles] = [
      await createProduct(t.api, producer, { name: 'Ceps', unit: 'each', onHand: '500' }),
      await createProduct(t.api, producer, { name: 'Chanterelles', unit: 'each', onHand: '500' }),
    ];
    const session = await createSession(t.api, await createHub(t.api, 'Forager hub'), {
      ...OPEN,
      products: [ceps, chanterelles],
      caps: { [ceps]: '20', [chanterelles]: '30' },
    });
    const [a, b] = [session.offerFor(ceps), session.offerFor(chanterelles)];
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => {
      const lines = [{ offerId: a, quantity: '1' }, { offerId: b, quantity: '1' }];
      return checkout(t.api, session.id, `forager-${i}`, i % 2 === 0 ? lines : lines.reverse());
    }));
    // Every basket is answered with its order or the cap's refusal: none with a deadlock's error.
    const codes = results.flatMap((r) => r.userErrors.map((e: UserErrorShape) => e.code));
    expect(new Set(codes)).toEqual(new Set(['INSUFFICIENT_STOCK']));
    // Baskets are whole or nothing, so the lower cap decides: 20 baskets.
    expect(results.filter((r) => r.customerOrder)).toHaveLength(20);
    expect(await offerView(a, session.id)).toMatchObject({ available: '0' });
    expect(await offerView(b, session.id)).toMatchObject({ available: '10' });
    await expectCapsConsistent(t.db);
    await expectStockConsistent(t.db);
  });

  it('tells storefronts watching the session what the capped offer can still sell', async () => {
    const { capped, offer, open, product } = await cappedSale('Samphire', '50', '6');
    // The product's stock, handed out before the storefront subscribes, is not the storefront's to get.
    await eventsHandedOut(t.app);
    const watcher = await subscribe<AvailabilityEventShape>(t.api, AVAILABILITY, { salesSessionId: capped.id }, { servedBy: t.app });
    try {
      expect((await checkout(t.api, capped.id, 'fay', [{ offerId: offer, quantity: '2' }])).userErrors).toEqual([]);
      // Another hub's hold changes the product's stock, not this cap.
      expect((await checkout(t.api, open.id, 'gus', [{ offerId: open.offerFor(product), quantity: '45' }])).userErrors).toEqual([]);
      const events = await watcher.waitForCount(2);
      expect(events.map((e) => [e.available, e.offer.id])).toEqual([['4', offer], ['3', offer]]);
      expect(watcher.errors).toEqual([]);
    } finally {
      await watcher.close();
    }
  });

  it('refuses a cap that is not a positive whole number of sellable steps, creating nothing; a retry must repeat its caps', async () => {
    const producer = await createProducer(t.api, 'Cheese dairy');
    const product = await createProduct(t.api, producer, { name: 'Brie', unit: 'kg' });
    await t.api.data('mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }', {
      input: { productId: product, sellableStep: '0.5' },
    });
    const hub = await createHub(t.api, 'Cheese hub');
    const create = async (caps: (string | undefined)[], idempotencyKey?: string) => {
      const { createSalesSession } = await t.api.data<{ createSalesSession: { salesSession: { id: string; offers: { cap: string | null }[] } | null; userErrors: UserErrorShape[] } }>(
        CREATE_SALES_SESSION.replace('available }', 'available cap }'),
        { input: { hubId: hub, ...OPEN, timeZone: 'Europe/Paris', idempotencyKey, offers: caps.map((cap) => ({ productId: product, price: { amount: 900, currency: 'EUR' }, cap })) } },
      );
      return createSalesSession;
    };
    const sessionsOfHub = async () => (await t.db.query('SELECT count(*)::int AS n FROM sales_session WHERE hub_id = $1', [hub])).rows[0].n;

    for (const [cap, message] of [['0', 'must not be zero'], ['-1', 'must be positive'], ['1.25', 'sellable steps (0.5 kg)'], ['many', 'not a decimal number']]) {
      const refused = await create([cap]);
      expect(refused.salesSession).toBeNull();
      expect(refused.userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['offers', '0', 'cap'], message: expect.stringContaining(message) }]);
    }
    expect(await sessionsOfHub()).toBe(0);

    const key = randomUUID();
    const made = await create(['2.5'], key);
    expect(made.userErrors).toEqual([]);
    expect(made.salesSession!.offers).toMatchObject([{ cap: '2.5' }]);
    expect((await create(['2.50'], key)).salesSession!.id).toBe(made.salesSession!.id);
    expect((await create(['3'], key)).userErrors).toMatchObject([{ code: 'IDEMPOTENCY_CONFLICT' }]);
    expect((await create([undefined], key)).userErrors).toMatchObject([{ code: 'IDEMPOTENCY_CONFLICT' }]);
    expect(await sessionsOfHub()).toBe(1);

    // The producer changes the step since: a retry still answers with the session it made.
    await t.api.data('mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }', {
      input: { productId: product, sellableStep: '2' },
    });
    expect((await create(['2.5'], key)).salesSession!.id).toBe(made.salesSession!.id);
    expect((await create(['2.5'])).userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['offers', '0', 'cap'], message: expect.stringContaining('(2 kg)') }]);
  });
  it('tells a line past both its cap and the stock what it can really have, and reports every short line of the basket', async () => {
    const { capped, offer } = await cappedSale('Quinces', '4', '10');
    const both = await checkout(t.api, capped.id, 'hal', [{ offerId: offer, quantity: '12' }]);
    expect(both.userErrors).toEqual([{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'quantity'], message: 'only 4 each of "Quinces" is available, 12 was asked' }]);

    const producer = await createProducer(t.api, 'Orchard');
    const [pears, plums] = [
      await createProduct(t.api, producer, { name: 'Pears', unit: 'each', onHand: '100' }),
      await createProduct(t.api, producer, { name: 'Plums', unit: 'each', onHand: '1' }),
    ];
    const session = await createSession(t.api, await createHub(t.api, 'Orchard hub'), { ...OPEN, products: [pears, plums], caps: { [pears]: '2' } });
    const two = await checkout(t.api, session.id, 'ida', [{ offerId: session.offerFor(pears), quantity: '3' }, { offerId: session.offerFor(plums), quantity: '5' }]);
    expect(two.userErrors).toEqual([
      { code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'quantity'], message: 'only 2 each of "Pears" is left in this session (the hub offers 2 each), 3 was asked' },
      { code: 'INSUFFICIENT_STOCK', field: ['lines', '1', 'quantity'], message: 'only 1 each of "Plums" is available, 5 was asked' },
    ]);
    await expectCapsConsistent(t.db);
  });

  it('names what a short line can have in whole sellable steps, as Offer.available does, when the stock or the cap leaves part of a step', async () => {
    const producer = await createProducer(t.api, 'Cheese and eggs');
    const setStep = async (productId: string, sellableStep: string) => {
      const { updateProduct } = await t.api.data<{ updateProduct: { userErrors: unknown[] } }>(
        'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }', { input: { productId, sellableStep } },
      );
      expect(updateProduct.userErrors).toEqual([]);
    };
    const available = async (sessionId: string) => (await t.api.data<{ salesSession: { offers: { available: string }[] } }>(
      'query ($id: ID!) { salesSession(id: $id) { offers { available } } }', { id: sessionId },
    )).salesSession.offers.map((o) => o.available);
    // A write-off leaves 9.7 kg of a cheese sold by the half kilo.
    const tomme = await createProduct(t.api, producer, { name: 'Tomme', onHand: '10' });
    await setStep(tomme, '0.5');
    await adjustStock(t.api, tomme, '-0.3');
    const cheese = await createSession(t.api, await createHub(t.api, 'Cheese hub'), { ...OPEN, products: [tomme] });
    expect(await available(cheese.id)).toEqual(['9.5']);
    const short = await checkout(t.api, cheese.id, 'jo', [{ offerId: cheese.offerFor(tomme), quantity: '10' }]);
    expect(short.userErrors).toEqual([{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'quantity'], message: 'only 9.5 kg of "Tomme" is available, 10 was asked' }]);
    // Eggs capped at 5, then sold in pairs: the cap leaves 4.
    const eggs = await createProduct(t.api, producer, { name: 'Eggs', unit: 'each', onHand: '100' });
    const capped = await createSession(t.api, await createHub(t.api, 'Egg hub'), { ...OPEN, products: [eggs], caps: { [eggs]: '5' } });
    await setStep(eggs, '2');
    expect(await available(capped.id)).toEqual(['4']);
    const past = await checkout(t.api, capped.id, 'kim', [{ offerId: capped.offerFor(eggs), quantity: '6' }]);
    expect(past.userErrors).toEqual([
      { code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'quantity'], message: 'only 4 each of "Eggs" is left in this session (the hub offers 5 each), 6 was asked' },
    ]);
  });

  describe('two checkouts of the same key waiting on a capped offer', () => {
    // Whoever holds a capped offer for a moment (a checkout under lock, a release) queues the
    // checkouts that need it. Every checkout takes the offer before its order takes the key, so two
    // of the same key never wait for each other in opposite orders (a deadlock, which one of them
    // would have answered with SERVICE_UNAVAILABLE).
    const offerHeldElsewhere = (offerId: string) => lockedElsewhere(t.db, 'SELECT 1 FROM offer WHERE id = $1 FOR NO KEY UPDATE', [offerId]);

    it('answers a retry sent while the first attempt waits with the first order', async () => {
      const { capped, offer, product } = await cappedSale('Walnuts', '2', '50');
      expect((await checkout(t.api, capped.id, 'warm-up', [{ offerId: offer, quantity: '1' }])).userErrors).toEqual([]);
      const key = randomUUID();
      const gate = await offerHeldElsewhere(offer);
      // Short of stock as read (1 left): the first attempt goes under lock and waits on the offer.
      const first = checkout(t.api, capped.id, 'jo', [{ offerId: offer, quantity: '3' }], key);
      await waitForLockWait(t.db, 'the first attempt to wait for the offer');
      // Stock arrives, and the client, timed out, sends the same checkout again: it looks
      // placeable at once, and waits on the offer too.
      expect((await adjustStock(t.api, product, '10')).userErrors).toEqual([]);
      const retry = checkout(t.api, capped.id, 'jo', [{ offerId: offer, quantity: '3' }], key);
      await waitForLockWait(t.db, 'the retry to wait too', 2);
      await gate.release();
      const [a, b] = await Promise.all([first, retry]);
      expect(a.userErrors).toEqual([]);
      expect(b).toEqual(a);
      await expectCapsConsistent(t.db);
    });

    it('answers one basket with its order and the other, under the same key, with IDEMPOTENCY_CONFLICT', async () => {
      const producer = await createProducer(t.api, 'Nut farm');
      const [hazel, almond] = [
        await createProduct(t.api, producer, { name: 'Hazelnuts', unit: 'each', onHand: '100' }),
        await createProduct(t.api, producer, { name: 'Almonds', unit: 'each', onHand: '100' }),
      ];
      const session = await createSession(t.api, await createHub(t.api, 'Nut hub'), { ...OPEN, products: [hazel, almond], caps: { [hazel]: '50', [almond]: '50' } });
      expect((await checkout(t.api, session.id, 'warm-up', [{ offerId: session.offerFor(hazel), quantity: '1' }])).userErrors).toEqual([]);
      const [low, high] = [session.offerFor(hazel), session.offerFor(almond)].sort();
      const key = randomUUID();
      const gate = await offerHeldElsewhere(high!);
      // Both offers: takes the lower, waits on the higher.
      const wide = checkout(t.api, session.id, 'kim', [{ offerId: low!, quantity: '1' }, { offerId: high!, quantity: '1' }], key);
      await waitForLockWait(t.db, 'the wide basket to wait for the higher offer');
      // The lower only, same key: waits on the lower.
      const narrow = checkout(t.api, session.id, 'kim', [{ offerId: low!, quantity: '1' }], key);
      await waitForLockWait(t.db, 'the narrow basket to wait too', 2);
      await gate.release();
      const [w, n] = await Promise.all([wide, narrow]);
      expect(w.userErrors).toEqual([]);
      expect(n.userErrors).toMatchObject([{ code: 'IDEMPOTENCY_CONFLICT', field: ['idempotencyKey'] }]);
      await expectCapsConsistent(t.db);
    });

    it('locks an offer capped after the checkout read it before taking the key, as a retry that read the cap does', async () => {
      const producer = await createProducer(t.api, 'Quince farm');
      const quinces = await createProduct(t.api, producer, { name: 'Quinces', unit: 'each', onHand: '50' });
      const hub = await createHub(t.api, 'Quince hub');
      const session = await createSession(t.api, hub, { ...OPEN, products: [quinces] });
      const elsewhere = await createSession(t.api, hub, { ...OPEN, products: [quinces] });
      const offer = session.offerFor(quinces);
      expect((await checkout(t.api, session.id, 'warm-up', [{ offerId: offer, quantity: '1' }])).userErrors).toEqual([]);
      const key = randomUUID();
      const [sameKey, capping, probe] = [await t.db.connect(), await t.db.connect(), await t.db.connect()];
      try {
        // Another attempt with the same key, still in flight (it will roll back).
        await sameKey.query('BEGIN');
        await sameKey.query(
          `INSERT INTO customer_order (id, created_at, updated_at, sales_session_id, hub_id, customer_ref, status, hold_expires_at, idempotency_key, request_hash)
           VALUES (gen_random_uuid(), now(), now(), $1, $2, 'other', 'PENDING_PAYMENT', now() + interval '1 hour', $3, 'h')`,
          [elsewhere.id, hub, key]);
        // The hub caps the offer as updateOfferCap does: the session FOR UPDATE, then the cap.
        await capping.query('BEGIN');
        await capping.query('SELECT 1 FROM sales_session WHERE id = $1 FOR UPDATE', [session.id]);
        await capping.query('UPDATE offer SET cap = 10, taken = 1 WHERE id = $1', [offer]);
        // The checkout reads the offer uncapped, then waits for the session until the cap commits.
        const placed = checkout(t.api, session.id, 'jo', [{ offerId: offer, quantity: '1' }], key);
        await waitForLockWait(t.db, 'the checkout to wait for the session');
        await capping.query('COMMIT');
        await waitForLockWait(t.db, 'the checkout to wait for the key');
        // Waiting for the key, it already holds the offer: a retry that read the cap, which locks
        // the offer first, waits for it, instead of taking the offer and then waiting for its key.
        const offerLock = await probe.query('SELECT 1 FROM offer WHERE id = $1 FOR NO KEY UPDATE NOWAIT', [offer]).then(() => 'free', (error: { code?: string }) => error.code);
        expect(offerLock).toBe('55P03');
        await sameKey.query('ROLLBACK');
        expect((await placed).userErrors).toEqual([]);
      } finally {
        await sameKey.query('ROLLBACK').catch(() => undefined);
        await capping.query('ROLLBACK').catch(() => undefined);
        for (const client of [sameKey, capping, probe]) client.release();
      }
      expect((await t.db.query('SELECT taken::text FROM offer WHERE id = $1', [offer])).rows).toEqual([{ taken: '2.000' }]);
      await expectCapsConsistent(t.db);
      await expectStockConsistent(t.db);
    });
  });
  describe('updateOfferCap', () => {
    const UPDATE_CAP = 'mutation ($input: UpdateOfferCapInput!) { updateOfferCap(input: $input) { offer { id cap available } userErrors { field message code } } }';
    type CapPayload = { offer: { id: string; cap: string | null; available: string } | null; userErrors: UserErrorShape[] };
    const updateCap = async (api: typeof t.api, offerId: string, cap: string | null) =>
      (await api.data<{ updateOfferCap: CapPayload }>(UPDATE_CAP, { input: { offerId, cap } })).updateOfferCap;

    it('caps an open offer by what its orders already hold, raises, lowers and lifts the cap, and never below those orders', async () => {
      const { capped, offer: cappedOffer, open, product } = await cappedSale('Beetroot', '100', '10');
      const offer = open.offerFor(product);
      expect((await checkout(t.api, open.id, 'lea', [{ offerId: offer, quantity: '4' }])).userErrors).toEqual([]);

      // Capped while open: the 4 already checked out count against it.
      expect(await updateCap(t.api, offer, '6')).toEqual({ offer: { id: offer, cap: '6', available: '2' }, userErrors: [] });
      expect((await checkout(t.api, open.id, 'max', [{ offerId: offer, quantity: '3' }])).userErrors).toMatchObject([{ code: 'INSUFFICIENT_STOCK', message: expect.stringContaining('only 2 each') }]);
      await expectCapsConsistent(t.db);

      const lower = await updateCap(t.api, offer, '3');
      expect(lower).toEqual({ offer: null, userErrors: [{ code: 'INVALID_INPUT', field: ['cap'], message: '4 each is already checked out in this session: the cap cannot be lower' }] });
      expect(await offerView(offer, open.id)).toMatchObject({ cap: '6' });
      expect((await updateCap(t.api, offer, '4')).offer).toMatchObject({ cap: '4', available: '0' });
      expect((await updateCap(t.api, offer, '9.000')).offer).toMatchObject({ cap: '9', available: '5' });
      // The same cap again answers as the first did.
      expect((await updateCap(t.api, offer, '9')).offer).toMatchObject({ cap: '9', available: '5' });
      await expectCapsConsistent(t.db);

      // Lifted: the product's stock again. The other hub's cap is its own.
      expect((await updateCap(t.api, offer, null)).offer).toMatchObject({ cap: null, available: '96' });
      expect((await checkout(t.api, open.id, 'ned', [{ offerId: offer, quantity: '20' }])).userErrors).toEqual([]);
      expect(await offerView(cappedOffer, capped.id)).toMatchObject({ cap: '10', available: '10' });
      await expectCapsConsistent(t.db);
      await expectStockConsistent(t.db);
    });

    it('refuses what it may not change: another hub\'s offer, a closed session, a cap between steps, an unknown offer', async () => {
      const { capped, offer } = await cappedSale('Leeks', '10', '5');
      const otherHub = await t.as({ role: 'hub', hubId: await createHub(t.api, 'Leek rival') });
      expect((await updateCap(otherHub, offer, '6')).userErrors).toMatchObject([{ code: 'FORBIDDEN', field: ['offerId'] }]);
      expect((await updateCap(t.api, offer, '0')).userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['cap'] }]);
      expect((await updateCap(t.api, randomUUID(), '6')).userErrors).toMatchObject([{ code: 'NOT_FOUND', field: ['offerId'] }]);
      await t.api.data('mutation ($input: CloseSalesSessionInput!) { closeSalesSession(input: $input) { userErrors { code } } }', { input: { salesSessionId: capped.id } });
      expect((await updateCap(t.api, offer, '6')).userErrors).toMatchObject([{ code: 'INVALID_STATE', field: ['offerId'] }]);
      // Asking for the cap it has answers with the offer, closed or not.
      expect((await updateCap(t.api, offer, '5')).offer).toMatchObject({ cap: '5', available: '0' });
    });

    it('answers a checkout that waited under lock while the cap was lifted or raised by the cap as it now is', async () => {
      const { capped, offer } = await cappedSale('Salsify', '100', '2');
      expect((await checkout(t.api, capped.id, 'warm-up', [{ offerId: offer, quantity: '1' }])).userErrors).toEqual([]);
      // A basket past the cap as read goes under lock; it waits for the session the change holds.
      const during = async (cap: string | null, quantity: string) => {
        const gate = await lockedElsewhere(t.db, 'SELECT 1 FROM offer WHERE id = $1 FOR NO KEY UPDATE', [offer]);
        const changing = updateCap(t.api, offer, cap);
        await waitForLockWait(t.db, 'the cap change to wait for the offer');
        const late = checkout(t.api, capped.id, 'ros', [{ offerId: offer, quantity }]);
        await waitForLockWait(t.db, 'the checkout to wait for the session', 2);
        await gate.release();
        expect((await changing).userErrors).toEqual([]);
        return late;
      };
      const raised = await during('4', '5');
      expect(raised.userErrors).toEqual([{
        code: 'INSUFFICIENT_STOCK',
        field: ['lines', '0', 'quantity'],
        message: 'only 3 each of "Salsify" is left in this session (the hub offers 4 each), 5 was asked',
      }]);
      // Lifted: the basket past the old cap is placed.
      const lifted = await during(null, '5');
      expect(lifted.userErrors).toEqual([]);
      expect(lifted.customerOrder).toMatchObject({ status: 'PENDING_PAYMENT' });
      await expectCapsConsistent(t.db);
      await expectStockConsistent(t.db);
    });

    it('tells storefronts already watching the session what a cap set since leaves', async () => {
      const { open, product } = await cappedSale('Purslane', '50', '50');
      const offer = open.offerFor(product);
      // The product's stock, handed out before the storefront subscribes, is not the storefront's to get.
      await eventsHandedOut(t.app);
      const watcher = await subscribe<AvailabilityEventShape>(t.api, AVAILABILITY, { salesSessionId: open.id }, { servedBy: t.app });
      try {
        // The cap's own event says what the offer sells now; the checkout's, what it leaves.
        expect((await updateCap(t.api, offer, '6')).userErrors).toEqual([]);
        expect((await watcher.waitForCount(1)).map((e) => [e.available, e.offer.id])).toEqual([['6', offer]]);
        expect((await checkout(t.api, open.id, 'fay', [{ offerId: offer, quantity: '2' }])).userErrors).toEqual([]);
        expect((await watcher.waitForCount(2))[1]).toMatchObject({ available: '4', offer: { id: offer, available: '4' } });
        // Lifted, the offer sells what the stock has (48 of the 50, fay holding 2).
        expect((await updateCap(t.api, offer, null)).userErrors).toEqual([]);
        expect((await watcher.waitForCount(3))[2]).toMatchObject({ available: '48', offer: { id: offer } });
        expect(watcher.errors).toEqual([]);
      } finally {
        await watcher.close();
      }
    });

    it('tells nothing of a cap set on a withdrawn offer, which stays off sale on the stream', async () => {
      const { open, product } = await cappedSale('Sorrel', '50', '50');
      const offer = open.offerFor(product);
      const { withdrawOffer } = await t.api.data<{ withdrawOffer: { userErrors: unknown[] } }>(
        'mutation ($input: OfferRefInput!) { withdrawOffer(input: $input) { userErrors { code } } }', { input: { offerId: offer } });
      expect(withdrawOffer.userErrors).toEqual([]);
      await eventsHandedOut(t.app);
      const watcher = await subscribe<AvailabilityEventShape>(t.api, AVAILABILITY, { salesSessionId: open.id }, { servedBy: t.app });
      try {
        expect((await updateCap(t.api, offer, '6')).userErrors).toEqual([]);
        await adjustStock(t.api, product, '1');
        // The stream goes on (another offer's change reaches it) without a word of the withdrawn one.
        const other = await createProduct(t.api, await createProducer(t.api, 'Sorrel neighbour'), { name: 'Dock', unit: 'each', onHand: '5' });
        const { addOffers } = await t.api.data<{ addOffers: { userErrors: unknown[] } }>(
          'mutation ($input: AddOffersInput!) { addOffers(input: $input) { userErrors { code } } }',
          { input: { salesSessionId: open.id, offers: [{ productId: other, price: { amount: 100, currency: 'EUR' } }] } });
        expect(addOffers.userErrors).toEqual([]);
        const [first] = await watcher.waitForCount(1);
        expect(first!.offer.id).not.toBe(offer);
        expect(watcher.received.filter((e) => e.offer.id === offer)).toEqual([]);
      } finally {
        await watcher.close();
      }
    });

    it('refuses a request that leaves the cap out, rather than lift it', async () => {
      const { offer } = await cappedSale('Swede', '10', '5');
      const { updateOfferCap } = await t.api.data<{ updateOfferCap: CapPayload }>(
        'mutation ($id: ID!) { updateOfferCap(input: { offerId: $id }) { offer { cap } userErrors { field message code } } }',
        { id: offer },
      );
      expect(updateOfferCap).toEqual({ offer: null, userErrors: [{ code: 'INVALID_INPUT', field: ['cap'], message: 'give the new cap, or null to lift it' }] });
      expect((await t.db.query('SELECT trim_scale(cap)::text AS cap FROM offer WHERE id = $1', [offer])).rows).toEqual([{ cap: '5' }]);
    });

    it('counts a checkout that was waiting for the session while the cap was set', async () => {
      const { open, product } = await cappedSale('Celeriac', '100', '50');
      const offer = open.offerFor(product);
      expect((await checkout(t.api, open.id, 'warm-up', [{ offerId: offer, quantity: '1' }])).userErrors).toEqual([]);
      // The cap's change holds the session and waits on the offer, held here for a moment...
      const gate = await lockedElsewhere(t.db, 'SELECT 1 FROM offer WHERE id = $1 FOR NO KEY UPDATE', [offer]);
      const capping = updateCap(t.api, offer, '3');
      await waitForLockWait(t.db, 'the cap change to wait for the offer');
      // ...when a checkout of the uncapped offer arrives, and waits for the session.
      const late = checkout(t.api, open.id, 'oli', [{ offerId: offer, quantity: '2' }]);
      await waitForLockWait(t.db, 'the checkout to wait for the session', 2);
      await gate.release();
      expect((await capping).offer).toMatchObject({ cap: '3' });
      // Placed under the new cap, and counted: 1 + 2 leaves nothing.
      expect((await late).userErrors).toEqual([]);
      expect(await offerView(offer, open.id)).toMatchObject({ cap: '3', available: '0' });
      await expectCapsConsistent(t.db);
    });
  });
});
