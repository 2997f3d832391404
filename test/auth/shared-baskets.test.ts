import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buy, closeSessions } from '../fulfilment/support.js';
import { checkout, orderMutation } from '../support/scenarios.js';
import * as op from '../support/operations.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';

// A basket holds several producers' products. Each producer packs its part of it, through its pack
// list, and must learn nothing of the rest: what else the customer bought, how much, at what price.

const PACK_LIST = `query ($p: ID!, $day: String!) { packList(producerId: $p, deliveryDay: $day) {
  customers { customerRef customerOrder { lines { quantity } } } } }`;

interface PackList {
  packList: { customers: { customerRef: string; customerOrder: { lines: { quantity: string }[] } }[] }[];
}

describe("a basket shared by several producers", () => {
  let t: TestApp;
  // The nested lists of this query cost more than the default limit allows; an operator may raise it.
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: { MAX_QUERY_COST: '1000000' } });
  });
  afterAll(() => t.stop());

  it("shows each producer only its own lines of the customer's order", async () => {
    const w = await openSessionWorld(t.api);
    const basket = await checkout(t.api, w.session.id, 'ali', [
      { offerId: w.session.offerFor(w.carrots), quantity: '2' },
      { offerId: w.session.offerFor(w.eggs), quantity: '12' },
    ]);
    expect(basket.userErrors).toEqual([]);
    await orderMutation(t.api, op.CONFIRM_PAYMENT, basket.customerOrder!.id);
    await buy(t.api, w.session.id, 'bob', w.session.offerFor(w.eggs), '6');
    await closeSessions(t);

    const linesSeenBy = async (producerId: string) => {
      const client = await t.as({ role: 'producer', producerId });
      const { packList } = await client.data<PackList>(PACK_LIST, { p: producerId, day: '2026-11-23' });
      return packList.flatMap((hub) => hub.customers.map((c) => [c.customerRef, c.customerOrder.lines.map((l) => l.quantity)]));
    };
    // Jean's 2 kg of carrots, without Marie's 12 eggs beside them.
    expect(await linesSeenBy(w.jean)).toEqual([['ali', ['2']]]);
    expect((await linesSeenBy(w.marie)).sort()).toEqual([['ali', ['12']], ['bob', ['6']]]);

    // The hub, whose order it is, still sees the whole basket.
    const hub = await t.as({ role: 'hub', hubId: w.hub });
    const { customerOrder } = await hub.data<{ customerOrder: { lines: { quantity: string }[] } }>(
      'query ($id: ID!) { customerOrder(id: $id) { lines { quantity } } }', { id: basket.customerOrder!.id });
    expect(customerOrder.lines.map((l) => l.quantity).sort()).toEqual(['12', '2']);
  });
});
