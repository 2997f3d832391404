// A customer changes a basket already checked out: the new basket takes the old one's place in one
// transaction, so the stock the old one held is never on sale to anyone else in between, and if
// the new basket cannot be placed the old one stands as it was.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLClient } from '../support/graphql.js';
import { expectStatesConsistent, expectStockConsistent } from '../support/invariants.js';
import { lockedElsewhere } from '../support/locked-elsewhere.js';
import { CONFIRM_PAYMENT, EXTEND_HOLD } from '../support/operations.js';
import { checkout, createHub, createProducer, createProduct, createSession, orderMutation, stockOf, type UserErrorShape } from '../support/scenarios.js';
import { AVAILABILITY, type AvailabilityEventShape, eventsHandedOut, RESERVATIONS, subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitForLockWait } from '../support/wait.js';

const OPEN = { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00' };

const CHANGE = `mutation ($input: CheckoutInput!) { checkout(input: $input) {
  customerOrder { id status customerRef lines { quantity product { id } } }
  userErrors { field message code } } }`;
const ORDER = 'query ($id: ID!) { customerOrder(id: $id) { id status holdExpiresAt replacedBy { id status } lines { quantity } } }';

interface Changed {
  customerOrder: { id: string; status: string; customerRef: string; lines: { quantity: string; product: { id: string } }[] } | null;
  userErrors: UserErrorShape[];
}

describe('changing a basket', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  /** Sends a checkout that replaces `replaces`, as a storefront does when its customer edits the basket. */
  const change = async (sessionId: string, customerRef: string, replaces: string, lines: { offerId: string; quantity: string }[], options: { key?: string; api?: GraphQLClient } = {}) =>
    (await (options.api ?? t.api).data<{ checkout: Changed }>(CHANGE, {
      input: { salesSessionId: sessionId, customerRef, lines, idempotencyKey: options.key ?? randomUUID(), replacesCustomerOrderId: replaces },
    })).checkout;
  const orderView = async (id: string) =>
    (await t.api.data<{ customerOrder: { id: string; status: string; holdExpiresAt: string | null; replacedBy: { id: string; status: string } | null; lines: { quantity: string }[] } }>(ORDER, { id })).customerOrder;

  /** 5 kg of strawberries and some cream at one hub, and a first basket of Ann's holding 4 kg. */
  async function flashSale(name: string, berryCap?: string) {
    const producer = await createProducer(t.api, `${name} farm`);
    const berries = await createProduct(t.api, producer, { name: `${name} strawberries`, unit: 'kg', onHand: '5' });
    const cream = await createProduct(t.api, producer, { name: `${name} cream`, unit: 'each', onHand: '10' });
    const hub = await createHub(t.api, `${name} hub`);
    const session = await createSession(t.api, hub, { ...OPEN, products: [berries, cream], caps: berryCap ? { [berries]: berryCap } : undefined });
    const berryOffer = session.offerFor(berries);
    const first = await checkout(t.api, session.id, 'ann', [{ offerId: berryOffer, quantity: '4' }]);
    expect(first.userErrors).toEqual([]);
    return { producer, berries, cream, hub, session, berryOffer, creamOffer: session.offerFor(cream), first: first.customerOrder!.id };
  }

  it('puts the new basket in the old one\'s place at once: the old one is cancelled, pointing at it, and its stock is the new one\'s', async () => {
    const { producer, berries, cream, session, berryOffer, creamOffer, first } = await flashSale('Changed');
    // Bob takes the last kilogram: nothing is left for anyone but Ann's own basket.
    expect((await checkout(t.api, session.id, 'bob', [{ offerId: berryOffer, quantity: '1' }])).userErrors).toEqual([]);
    // Bob's hold, handed out before the producer's app subscribes, is not the app's to get.
    await eventsHandedOut(t.app);
    const producerApp = subscribe<{ kind: string; quantity: string }>(await t.as({ role: 'producer', producerId: producer }), RESERVATIONS, { producerId: producer }, { servedBy: t.app });
    const reservations = await producerApp;
    try {
      const changed = await change(session.id, 'ann', first, [{ offerId: berryOffer, quantity: '3' }, { offerId: creamOffer, quantity: '2' }]);
      expect(changed.userErrors).toEqual([]);
      expect(changed.customerOrder).toMatchObject({ status: 'PENDING_PAYMENT', customerRef: 'ann' });
      const replacement = changed.customerOrder!.id;
      expect(replacement).not.toBe(first);
      expect(await orderView(first)).toMatchObject({ status: 'CANCELLED', holdExpiresAt: null, replacedBy: { id: replacement, status: 'PENDING_PAYMENT' } });
      expect(await stockOf(t.api, berries)).toEqual({ onHand: '5', held: '4', committed: '0', available: '1' });
      expect(await stockOf(t.api, cream)).toMatchObject({ held: '2', available: '8' });
      // The producer sees the old basket's 4 kg released and the new basket held, in that order.
      const [released, ...held] = await reservations.waitForCount(3);
      expect([released!.kind, released!.quantity]).toEqual(['RELEASED', '4']);
      expect(held.map((e) => [e.kind, e.quantity]).sort()).toEqual([['HELD', '2'], ['HELD', '3']]);
    } finally {
      await reservations.close();
    }
    await expectStockConsistent(t.db);
    await expectStatesConsistent(t.db);
  });

  it('leaves the old basket as it was when the new one cannot be placed', async () => {
    const { berries, session, berryOffer, first } = await flashSale('Short');
    expect((await checkout(t.api, session.id, 'bob', [{ offerId: berryOffer, quantity: '1' }])).userErrors).toEqual([]);
    const before = await orderView(first);

    // Her own 4 kg count for her: 4 more than Bob left is all she can have.
    const tooMuch = await change(session.id, 'ann', first, [{ offerId: berryOffer, quantity: '5' }]);
    expect(tooMuch).toEqual({
      customerOrder: null,
      userErrors: [{ code: 'INSUFFICIENT_STOCK', field: ['lines', '0', 'quantity'], message: 'only 4 kg of "Short strawberries" is available, 5 was asked' }],
    });
    expect(await orderView(first)).toEqual(before);
    expect(await stockOf(t.api, berries)).toEqual({ onHand: '5', held: '5', committed: '0', available: '0' });
    await expectStockConsistent(t.db);
  });

  it('counts the old basket\'s share of a capped offer as the new one\'s', async () => {
    // The hub takes 4 kg this week, and Ann's first basket has them all.
    const { berries, session, berryOffer, first } = await flashSale('Capped', '4');
    const same = await change(session.id, 'ann', first, [{ offerId: berryOffer, quantity: '4' }]);
    expect(same.userErrors).toEqual([]);
    const past = await change(session.id, 'ann', same.customerOrder!.id, [{ offerId: berryOffer, quantity: '5' }]);
    expect(past.userErrors).toEqual([{
      code: 'INSUFFICIENT_STOCK',
      field: ['lines', '0', 'quantity'],
      message: 'only 4 kg of "Capped strawberries" is left in this session (the hub offers 4 kg), 5 was asked',
    }]);
    expect(await orderView(same.customerOrder!.id)).toMatchObject({ status: 'PENDING_PAYMENT', replacedBy: null });
    expect(await stockOf(t.api, berries)).toMatchObject({ held: '4', available: '1' });
    await expectStockConsistent(t.db);
  });

  it('answers a retry with the new order, and holds nothing more', async () => {
    const { berries, session, berryOffer, first } = await flashSale('Retried');
    const key = randomUUID();
    const once = await change(session.id, 'ann', first, [{ offerId: berryOffer, quantity: '2' }], { key });
    expect(once.userErrors).toEqual([]);
    const again = await change(session.id, 'ann', first, [{ offerId: berryOffer, quantity: '2' }], { key });
    expect(again).toEqual(once);
    expect(await stockOf(t.api, berries)).toMatchObject({ held: '2', available: '3' });
    // The same key for a basket replacing nothing, or something else, is another request.
    const other = await checkout(t.api, session.id, 'ann', [{ offerId: berryOffer, quantity: '2' }], key);
    expect(other.userErrors).toMatchObject([{ code: 'IDEMPOTENCY_CONFLICT' }]);
    const elsewhere = await change(session.id, 'ann', once.customerOrder!.id, [{ offerId: berryOffer, quantity: '2' }], { key });
    expect(elsewhere.userErrors).toMatchObject([{ code: 'IDEMPOTENCY_CONFLICT' }]);
  });

  it('answers a retry sent while the first attempt waits with the order the first placed', async () => {
    const { berries, session, berryOffer, first } = await flashSale('Waiting');
    const key = randomUUID();
    const gate = await lockedElsewhere(t.db, 'SELECT 1 FROM customer_order WHERE id = $1 FOR UPDATE', [first]);
    const attempt = change(session.id, 'ann', first, [{ offerId: berryOffer, quantity: '2' }], { key });
    await waitForLockWait(t.db, 'the first attempt to wait for the old order');
    const retry = change(session.id, 'ann', first, [{ offerId: berryOffer, quantity: '2' }], { key });
    await waitForLockWait(t.db, 'the retry to wait too', 2);
    await gate.release();
    const [a, b] = await Promise.all([attempt, retry]);
    expect(a.userErrors).toEqual([]);
    expect(b).toEqual(a);
    expect(await stockOf(t.api, berries)).toMatchObject({ held: '2', available: '3' });
    await expectStockConsistent(t.db);
  });

  it('shows storefronts the stock as it is after the change, never the old basket\'s on sale in between', async () => {
    const { session, berryOffer, first } = await flashSale('Watched');
    expect((await checkout(t.api, session.id, 'bob', [{ offerId: berryOffer, quantity: '1' }])).userErrors).toEqual([]);
    // Bob's hold, handed out before the storefront subscribes, is not the storefront's to get.
    await eventsHandedOut(t.app);
    const storefront = await subscribe<AvailabilityEventShape>(await t.as(), AVAILABILITY, { salesSessionId: session.id }, { servedBy: t.app });
    try {
      expect((await change(session.id, 'ann', first, [{ offerId: berryOffer, quantity: '3' }])).userErrors).toEqual([]);
      // The release and the hold, each with what is left once both are done: 1 kg, never 4.
      expect((await storefront.waitForCount(2)).map((e) => e.available)).toEqual(['1', '1']);
    } finally {
      await storefront.close();
    }
  });

  it('never holds stock past HOLD_MAX_DURATION from the first checkout, however often the basket changes', async () => {
    t.clock.set('2026-11-23T10:00:00+01:00');
    const { session, berryOffer, first } = await flashSale('Forever');
    const changeEvery14Minutes = async (order: string) => {
      t.clock.advance({ minutes: 14 });
      return (await t.api.data<{ checkout: { customerOrder: { id: string; holdExpiresAt: string } | null; userErrors: UserErrorShape[] } }>(
        'mutation ($input: CheckoutInput!) { checkout(input: $input) { customerOrder { id holdExpiresAt } userErrors { field message code } } }',
        { input: { salesSessionId: session.id, customerRef: 'ann', lines: [{ offerId: berryOffer, quantity: '4' }], idempotencyKey: randomUUID(), replacesCustomerOrderId: order } },
      )).checkout;
    };
    const holds = [];
    let order = first;
    for (let i = 0; i < 4; i += 1) {
      const changed = await changeEvery14Minutes(order);
      expect(changed.userErrors).toEqual([]);
      order = changed.customerOrder!.id;
      holds.push(changed.customerOrder!.holdExpiresAt);
    }
    // Fifteen minutes from each change, until the hour (HOLD_MAX_DURATION) from the first
    // checkout at 10:00 (09:00 UTC): extending it then changes nothing.
    expect(holds).toEqual(['2026-11-23T09:29:00Z', '2026-11-23T09:43:00Z', '2026-11-23T09:57:00Z', '2026-11-23T10:00:00Z']);
    expect((await orderMutation(t.api, EXTEND_HOLD, order)).userErrors).toEqual([]);
    expect((await orderView(order)).holdExpiresAt).toBe('2026-11-23T10:00:00Z');
    // Past it, the hold has lapsed: the basket is checked out afresh, or not at all.
    expect((await changeEvery14Minutes(order)).userErrors).toMatchObject([{ code: 'HOLD_EXPIRED' }]);
  });

  it('takes no lock of another hub\'s order it is not shown', async () => {
    const { hub, session, berryOffer } = await flashSale('Locked out');
    const theirs = await flashSale('Locked out, theirs');
    const gate = await lockedElsewhere(t.db, 'SELECT 1 FROM customer_order WHERE id = $1 FOR UPDATE', [theirs.first]);
    try {
      // Answered while the other hub's order stays locked: it did not wait for it.
      const answer = await change(session.id, 'ann', theirs.first, [{ offerId: berryOffer, quantity: '1' }], { api: await t.as({ role: 'hub', hubId: hub }) });
      expect(answer.userErrors).toMatchObject([{ code: 'NOT_FOUND', field: ['replacesCustomerOrderId'] }]);
    } finally {
      await gate.release();
    }
  });

  it('takes its idempotency key before any stock level, as every checkout: a plain checkout of the same key is told so, without a deadlock', async () => {
    const { berries, session, berryOffer, first } = await flashSale('Same key');
    const key = randomUUID();
    // The product held here stops each of them at its first write naming it: the change once it
    // has written its order (its key), the plain checkout then waiting for that key.
    const gate = await lockedElsewhere(t.db, 'SELECT 1 FROM product WHERE id = $1 FOR UPDATE', [berries]);
    const changing = change(session.id, 'ann', first, [{ offerId: berryOffer, quantity: '3' }], { key });
    await waitForLockWait(t.db, 'the change to wait');
    const plain = t.api.request<{ checkout: Changed }>(CHANGE, { input: { salesSessionId: session.id, customerRef: 'ann', idempotencyKey: key, lines: [{ offerId: berryOffer, quantity: '1' }] } });
    await waitForLockWait(t.db, 'the plain checkout to wait too', 2);
    await gate.release();
    const [changed, other] = await Promise.all([changing, plain]);
    expect(changed.userErrors).toEqual([]);
    expect(other.errors).toBeUndefined();
    expect(other.data!.checkout.userErrors).toMatchObject([{ code: 'IDEMPOTENCY_CONFLICT' }]);
    await expectStockConsistent(t.db);
  });

  it('refuses, changing nothing: another customer\'s order, another session\'s, a paid one, a lapsed one, one already replaced, another hub\'s', async () => {
    const { berries, cream, hub, session, berryOffer, first } = await flashSale('Refused');
    const refused = async (customerRef: string, replaces: string, api?: GraphQLClient) =>
      (await change(session.id, customerRef, replaces, [{ offerId: berryOffer, quantity: '1' }], { api })).userErrors;
    const before = await orderView(first);

    expect(await refused('bob', first)).toEqual([{ code: 'INVALID_INPUT', field: ['replacesCustomerOrderId'], message: "the order is another customer's" }]);

    const elsewhere = await createSession(t.api, hub, { ...OPEN, products: [berries] });
    const otherSession = await checkout(t.api, elsewhere.id, 'ann', [{ offerId: elsewhere.offerFor(berries), quantity: '0.5' }]);
    expect(otherSession.userErrors).toEqual([]);
    expect(await refused('ann', otherSession.customerOrder!.id)).toEqual([
      { code: 'INVALID_INPUT', field: ['replacesCustomerOrderId'], message: 'the order was checked out in another sales session' },
    ]);

    const paid = (await checkout(t.api, session.id, 'cem', [{ offerId: berryOffer, quantity: '0.5' }])).customerOrder!.id;
    expect((await orderMutation(t.api, CONFIRM_PAYMENT, paid)).userErrors).toEqual([]);
    expect(await refused('cem', paid)).toEqual([
      { code: 'INVALID_STATE', field: ['replacesCustomerOrderId'], message: 'the order is paid: cancel it (and refund it), then check the new basket out' },
    ]);

    // Refused three times so far, Ann's first order is as it was.
    expect(await orderView(first)).toEqual(before);
    const replaced = await change(session.id, 'ann', first, [{ offerId: berryOffer, quantity: '4' }]);
    expect(replaced.userErrors).toEqual([]);
    expect(await refused('ann', first)).toEqual([
      { code: 'INVALID_STATE', field: ['replacesCustomerOrderId'], message: 'only a pending order can be replaced: this one is CANCELLED' },
    ]);

    // Another hub's order is not this hub's to name: not found, as customerOrder(id) would say.
    const theirSession = await createSession(t.api, await createHub(t.api, 'Refused other hub'), { ...OPEN, products: [cream] });
    const theirs = (await checkout(t.api, theirSession.id, 'ann', [{ offerId: theirSession.offerFor(cream), quantity: '1' }])).customerOrder!.id;
    expect(await refused('ann', theirs, await t.as({ role: 'hub', hubId: hub }))).toEqual([
      { code: 'NOT_FOUND', field: ['replacesCustomerOrderId'], message: `no customer order with id "${theirs}"` },
    ]);

    // Nothing a refusal touched moved: Ann's 4 kg (in her second basket), her half at the other
    // session, and Cem's paid half.
    expect(await stockOf(t.api, berries)).toMatchObject({ held: '5' });
    await expectStockConsistent(t.db);

    t.clock.advance({ minutes: 16 });
    expect(await refused('ann', replaced.customerOrder!.id)).toEqual([{
      code: 'HOLD_EXPIRED', field: ['replacesCustomerOrderId'],
      message: "the order's hold expired: check the basket out afresh, without replacesCustomerOrderId",
    }]);
  });

  it('waits for a payment result in flight for the old order, and answers after it', async () => {
    const { session, berryOffer, first } = await flashSale('Raced');
    const gate = await lockedElsewhere(t.db, 'SELECT 1 FROM customer_order WHERE id = $1 FOR UPDATE', [first]);
    const paying = orderMutation(t.api, CONFIRM_PAYMENT, first);
    await waitForLockWait(t.db, 'the payment to wait for the order');
    const changing = change(session.id, 'ann', first, [{ offerId: berryOffer, quantity: '1' }]);
    await waitForLockWait(t.db, 'the change to wait too', 2);
    await gate.release();
    expect((await paying).userErrors).toEqual([]);
    expect((await changing).userErrors).toMatchObject([{ code: 'INVALID_STATE', field: ['replacesCustomerOrderId'] }]);
    expect(await orderView(first)).toMatchObject({ status: 'CONFIRMED', replacedBy: null });
    await expectStockConsistent(t.db);
  });
});
