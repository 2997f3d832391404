// customerOrders: a hub's back office listing a session's orders (by status, customer or the
// checkout's idempotency key, a page at a time), a customer their own, nobody anyone else's.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { checkout, createHub, createSession, orderMutation } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';

const LIST = `query ($s: ID!, $status: [CustomerOrderStatus!], $customerRef: String, $idempotencyKey: String, $first: Int, $after: ID) {
  customerOrders(salesSessionId: $s, status: $status, customerRef: $customerRef, idempotencyKey: $idempotencyKey, first: $first, after: $after) {
    id customerRef status createdAt updatedAt
  }
}`;

type Listed = { id: string; customerRef: string; status: string; createdAt: string; updatedAt: string };

describe("a session's customer orders", () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof openSessionWorld>>;
  /** Orders in the order they were placed: ali, bea (confirmed later), ali again (cancelled). */
  const placed: { id: string; key: string }[] = [];

  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    w = await openSessionWorld(t.api);
    for (const customerRef of ['ali', 'bea', 'ali']) {
      const key = randomUUID();
      const result = await checkout(t.api, w.session.id, customerRef, [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }], key);
      expect(result.userErrors).toEqual([]);
      placed.push({ id: result.customerOrder!.id, key });
      t.clock.advance({ minutes: 1 });
    }
    expect((await orderMutation(t.api, op.CONFIRM_PAYMENT, placed[1]!.id)).userErrors).toEqual([]);
    expect((await orderMutation(t.api, op.CANCEL_CUSTOMER_ORDER, placed[2]!.id)).userErrors).toEqual([]);
  });
  afterAll(() => t.stop());

  const list = async (variables: Record<string, unknown>, api = t.api) =>
    (await api.data<{ customerOrders: Listed[] }>(LIST, { s: w.session.id, ...variables })).customerOrders;

  it('lists them oldest first, with when each was placed and last changed', async () => {
    const orders = await list({});
    expect(orders.map((o) => [o.id, o.customerRef, o.status])).toEqual([
      [placed[0]!.id, 'ali', 'PENDING_PAYMENT'],
      [placed[1]!.id, 'bea', 'CONFIRMED'],
      [placed[2]!.id, 'ali', 'CANCELLED'],
    ]);
    expect(orders.map((o) => o.createdAt)).toEqual(['2026-11-23T08:00:00Z', '2026-11-23T08:01:00Z', '2026-11-23T08:02:00Z']);
    // Confirmed and cancelled at 09:03 (Paris): the first order never changed.
    expect(orders.map((o) => o.updatedAt)).toEqual(['2026-11-23T08:00:00Z', '2026-11-23T08:03:00Z', '2026-11-23T08:03:00Z']);
  });

  it('narrows them by status, customer and idempotency key', async () => {
    expect((await list({ status: ['PENDING_PAYMENT', 'CONFIRMED'] })).map((o) => o.id)).toEqual([placed[0]!.id, placed[1]!.id]);
    expect((await list({ customerRef: ' ali ' })).map((o) => o.id)).toEqual([placed[0]!.id, placed[2]!.id]);
    expect((await list({ idempotencyKey: placed[1]!.key })).map((o) => o.id)).toEqual([placed[1]!.id]);
    expect(await list({ idempotencyKey: 'never-sent' })).toEqual([]);
  });

  it('pages after the last order seen, and refuses a cursor that is not one of the list', async () => {
    const first = await list({ first: 2 });
    expect(first.map((o) => o.id)).toEqual([placed[0]!.id, placed[1]!.id]);
    expect((await list({ first: 2, after: first[1]!.id })).map((o) => o.id)).toEqual([placed[2]!.id]);
    // A cursor still counts when its order left the status asked for.
    expect((await list({ status: ['CANCELLED'], after: placed[0]!.id })).map((o) => o.id)).toEqual([placed[2]!.id]);

    for (const after of [randomUUID(), 'not-an-id']) {
      const refused = await t.api.request(LIST, { s: w.session.id, after });
      expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    }
    // bea's order is not one of ali's.
    const ali = await t.api.request(LIST, { s: w.session.id, customerRef: 'ali', after: placed[1]!.id });
    expect(ali.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
  });

  it('lists the orders of one instant (a checkout batch) in the order they were placed, and pages through them', async () => {
    // The clock stands still: the orders share created_at, as a batch's do; arrival_seq orders them.
    const session = await createSession(t.api, w.hub, { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [w.eggs] });
    const refs = Array.from({ length: 12 }, (_, i) => `c${i}`);
    for (const ref of refs) expect((await checkout(t.api, session.id, ref, [{ offerId: session.offerFor(w.eggs), quantity: '1' }])).userErrors).toEqual([]);
    expect((await list({ s: session.id })).map((o) => o.customerRef)).toEqual(refs);
    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 3; page++) {
      const orders = await list({ s: session.id, first: 5, after });
      seen.push(...orders.map((o) => o.customerRef));
      after = orders.at(-1)?.id;
    }
    expect(seen).toEqual(refs);
    // No status asked for: no order.
    expect(await list({ s: session.id, status: [] })).toEqual([]);
  });

  it("fits the README's back-office page, lines and all, within the cost limit", async () => {
    const page = await (await t.as({ role: 'hub', hubId: w.hub })).request<{ customerOrders: unknown[] }>(
      `query ($s: ID!) { customerOrders(salesSessionId: $s, status: [PENDING_PAYMENT, CONFIRMED], first: 100) {
        id customerRef status createdAt updatedAt lines { product { name } quantity } } }`,
      { s: w.session.id },
    );
    expect(page.errors).toBeUndefined();
    expect(page.data?.customerOrders).toHaveLength(2);
  });

  it("shows a hub its own session's orders, a customer their own, and nobody else any", async () => {
    const asHub = await t.as({ role: 'hub', hubId: w.hub });
    expect(await list({}, asHub)).toHaveLength(3);

    const otherHub = await createHub(t.api, 'Hub B');
    expect(await list({}, await t.as({ role: 'hub', hubId: otherHub }))).toEqual([]);
    const otherSession = await createSession(t.api, otherHub, { opensAt: '2026-11-23T07:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [w.eggs] });
    expect(await list({ s: otherSession.id }, asHub)).toEqual([]);

    const ali = await t.as({ role: 'customer', hubId: w.hub, customerRef: 'ali' });
    expect((await list({}, ali)).map((o) => o.id)).toEqual([placed[0]!.id, placed[2]!.id]);
    expect(await list({ customerRef: 'bea' }, ali)).toEqual([]);
    // Not even by another customer's key.
    expect(await list({ idempotencyKey: placed[1]!.key }, ali)).toEqual([]);

    const producer = await (await t.as({ role: 'producer', producerId: w.jean })).request(LIST, { s: w.session.id });
    expect(producer.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    const anonymous = await (await t.as()).request(LIST, { s: w.session.id });
    expect(anonymous.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });
});
