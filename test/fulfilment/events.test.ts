import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribe } from '../support/subscriptions.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { LOOPBACK_RECEIVERS_ENV, startWebhookReceiver } from '../support/webhook-receiver.js';
import { adjustAt, buy, closeSessions, createOfferSession, producerOrderOf, receiveLot, SWAP, world } from './support.js';

const FULFILMENT = `subscription ($producerId: ID, $hubId: ID, $after: ID) {
  fulfilmentChanged(producerId: $producerId, hubId: $hubId, after: $after) {
    id kind quantity customerOrderId product { id } producerOrder { id } lot { code } location { name } } }`;

interface FulfilmentEventShape {
  id: string;
  kind: string;
  quantity: string;
  customerOrderId: string | null;
  product: { id: string };
  producerOrder: { id: string } | null;
  lot: { code: string } | null;
  location: { name: string } | null;
}

describe('fulfilment events', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: LOOPBACK_RECEIVERS_ENV });
  });
  afterAll(() => t.stop());

  it('tell the producer and the hub, live and after commit, on the same stream as reservations', async () => {
    const w = await world(t);
    const producer = await t.as({ role: 'producer', producerId: w.farm });
    const hub = await t.as({ role: 'hub', hubId: w.hub });
    const forProducer = await subscribe<FulfilmentEventShape>(producer, FULFILMENT, { producerId: w.farm });
    const forHub = await subscribe<FulfilmentEventShape>(hub, FULFILMENT, { hubId: w.hub });
    await waitFor('both subscriptions', async () => (t.app.events.subscriberCount >= 2 ? true : undefined));

    const beans = await w.product('Beans');
    await receiveLot(t.api, beans, { code: 'BN-1', quantity: '5', bestBefore: '2026-12-01' });
    const session = await createOfferSession(t.api, w.hub, [{ productId: beans }]);
    const early = await buy(t.api, session.id, 'early', session.offerFor(beans), '2');
    t.clock.set('2026-11-23T10:00:00+01:00');
    const late = await buy(t.api, session.id, 'late', session.offerFor(beans), '3');
    await closeSessions(t);
    const order = await producerOrderOf(t.api, w.farm, session.id);
    const { shipProducerOrder } = await t.api.data<{ shipProducerOrder: { userErrors: unknown[] } }>(
      `mutation ($input: ShipProducerOrderInput!) { shipProducerOrder(input: $input) { userErrors { code } } }`,
      { input: { producerOrderId: order, carrier: 'Van', trackingReference: 'T1', lines: [{ productId: beans, quantity: '4' }] } },
    );
    expect(shipProducerOrder.userErrors).toEqual([]);

    const producerEvents = await forProducer.waitForCount(3);
    expect(producerEvents.map((e) => [e.kind, e.quantity])).toEqual([['LOT_RELEASED', '5'], ['SHIPPED', '4'], ['SHORT_FILLED', '1']]);
    expect(producerEvents[0]).toMatchObject({ lot: { code: 'BN-1' }, location: { name: 'Main' }, producerOrder: null });
    // The hub hears about its own orders only: the shipment and who lost out, not the producer's lots.
    const hubEvents = await forHub.waitForCount(2);
    expect(hubEvents.map((e) => [e.kind, e.customerOrderId])).toEqual([['SHIPPED', null], ['SHORT_FILLED', late]]);
    expect(hubEvents.map((e) => e.customerOrderId)).not.toContain(early);
    expect(Number(hubEvents[1]!.id)).toBeGreaterThan(Number(hubEvents[0]!.id));

    // Ids are shared with reservation events: resuming after the lot release replays the rest.
    const replay = await subscribe<FulfilmentEventShape>(producer, FULFILMENT, { producerId: w.farm, after: producerEvents[0]!.id });
    expect((await replay.waitForCount(2)).map((e) => e.kind)).toEqual(['SHIPPED', 'SHORT_FILLED']);
    await Promise.all([forProducer.close(), forHub.close(), replay.close()]);
  });

  it('tell the hub by webhook which customer lost what in a short fill', async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const receiver = await startWebhookReceiver();
    try {
      const w = await world(t);
      const hub = await t.as({ role: 'hub', hubId: w.hub });
      const { registerWebhook } = await hub.data<{ registerWebhook: { userErrors: unknown[] } }>(
        'mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { userErrors { code } } }',
        { input: { url: receiver.url, kinds: ['SHORT_FILLED'], hubId: w.hub } },
      );
      expect(registerWebhook.userErrors).toEqual([]);
      const peas = await w.product('Peas');
      await receiveLot(t.api, peas, { code: 'P-1', quantity: '4' });
      const session = await createOfferSession(t.api, w.hub, [{ productId: peas }]);
      await buy(t.api, session.id, 'one', session.offerFor(peas), '2');
      t.clock.set('2026-11-23T10:00:00+01:00');
      const two = await buy(t.api, session.id, 'two', session.offerFor(peas), '2');
      await closeSessions(t);
      const order = await producerOrderOf(t.api, w.farm, session.id);
      await t.api.data('mutation ($input: ShipProducerOrderInput!) { shipProducerOrder(input: $input) { userErrors { code } } }', {
        input: { producerOrderId: order, carrier: 'Van', trackingReference: 'T2', lines: [{ productId: peas, quantity: '3.5' }] },
      });
      for (let i = 0; i < 20 && receiver.accepted().length < 1; i += 1) {
        t.clock.advance({ seconds: 30 });
        await t.app.scheduler.runOnce();
      }
      expect(receiver.accepted().map((r) => JSON.parse(r.body))).toMatchObject([
        { kind: 'SHORT_FILLED', hubId: w.hub, producerOrderId: order, customerOrderId: two, productId: peas, quantity: '0.5' },
      ]);
    } finally {
      await receiver.close();
    }
  });

  it("keeps the producer's lots, locations and available stock out of a hub's webhook, and tells the producer's", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const [atHub, atFarm, atBoth] = [await startWebhookReceiver(), await startWebhookReceiver(), await startWebhookReceiver()];
    try {
      const w = await world(t);
      const register = async (client: typeof t.api, url: string, scope: Record<string, string>) => {
        const { registerWebhook } = await client.data<{ registerWebhook: { userErrors: unknown[] } }>(
          'mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { userErrors { code } } }',
          { input: { url, kinds: ['LOT_SWAPPED'], ...scope } },
        );
        expect(registerWebhook.userErrors).toEqual([]);
      };
      await register(await t.as({ role: 'hub', hubId: w.hub }), atHub.url, { hubId: w.hub });
      await register(await t.as({ role: 'producer', producerId: w.farm }), atFarm.url, { producerId: w.farm });
      // The operator's narrowing of the hub's webhook to one producer: still the hub's, which reads it.
      await register(t.api, atBoth.url, { hubId: w.hub, producerId: w.farm });
      const beans = await w.product('Beans');
      const first = await receiveLot(t.api, beans, { code: 'B-1', quantity: '5', bestBefore: '2026-12-01' });
      const second = await receiveLot(t.api, beans, { code: 'B-2', quantity: '5', bestBefore: '2026-12-09' });
      const session = await createOfferSession(t.api, w.hub, [{ productId: beans }]);
      await buy(t.api, session.id, 'ana', session.offerFor(beans), '2');
      await closeSessions(t);
      const order = await producerOrderOf(t.api, w.farm, session.id);
      const { swapLot } = await t.api.data<{ swapLot: { userErrors: unknown[] } }>(SWAP, { input: { producerOrderId: order, productId: beans, fromLotId: first, toLotId: second } });
      expect(swapLot.userErrors).toEqual([]);
      // Deliveries go out as the relay positions the swap's event: nudged on by the scheduler's
      // retries until all three arrive (a fixed number of nudges ran out on a busy machine).
      await waitFor('the three deliveries', async () => {
        if (atHub.accepted().length + atFarm.accepted().length + atBoth.accepted().length >= 3) return true;
        t.clock.advance({ seconds: 30 });
        await t.app.scheduler.runOnce();
        return undefined;
      });
      const bodies = (receiver: typeof atHub) => receiver.accepted().map((r) => JSON.parse(r.body) as Record<string, unknown>);
      // 10 received, 2 committed: the producer's available stock, which no hub reads.
      expect(bodies(atFarm)).toEqual([expect.objectContaining({ kind: 'LOT_SWAPPED', hubId: w.hub, lotId: second, available: '8' })]);
      for (const hubs of [atHub, atBoth]) {
        expect(bodies(hubs)).toEqual([expect.objectContaining({ kind: 'LOT_SWAPPED', hubId: w.hub, lotId: null, locationId: null, available: null })]);
      }
    } finally {
      await Promise.all([atHub.close(), atFarm.close(), atBoth.close()]);
    }
  });

  it("names, in a write-off's ADJUSTED webhook, the lot it names and where that lot is; a write-off outside lots names neither", async () => {
    t.clock.set('2026-11-23T09:00:00+01:00');
    const receiver = await startWebhookReceiver();
    try {
      const w = await world(t);
      const producer = await t.as({ role: 'producer', producerId: w.farm });
      const { registerWebhook } = await producer.data<{ registerWebhook: { userErrors: unknown[] } }>(
        'mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { userErrors { code } } }',
        { input: { url: receiver.url, kinds: ['ADJUSTED'], producerId: w.farm } },
      );
      expect(registerWebhook.userErrors).toEqual([]);
      const beans = await w.product('Beans');
      const lot = await receiveLot(t.api, beans, { code: 'B-1', quantity: '5', bestBefore: '2026-12-01' }); // at Main
      await adjustAt(t.api, beans, w.main, '3');
      const { adjustStock } = await t.api.data<{ adjustStock: { userErrors: unknown[] } }>(
        'mutation ($input: AdjustStockInput!) { adjustStock(input: $input) { userErrors { code } } }',
        { input: { productId: beans, delta: '-1.5', lotId: lot, reason: 'mouldy' } },
      );
      expect(adjustStock.userErrors).toEqual([]);
      await adjustAt(t.api, beans, w.main, '-1');
      await waitFor('three deliveries', async () => {
        if (receiver.accepted().length >= 3) return true;
        t.clock.advance({ seconds: 30 });
        await t.app.scheduler.runOnce();
        return undefined;
      });
      const bodies = receiver.accepted().map((r) => JSON.parse(r.body) as Record<string, unknown>);
      expect(bodies.map((b) => [b.quantity, b.lotId, b.locationId])).toEqual([['3', null, null], ['-1.5', lot, w.main], ['-1', null, null]]);
    } finally {
      await receiver.close();
    }
  });

  it("refuses another hub's or producer's stream", async () => {
    const w = await world(t);
    const other = await world(t);
    const hub = await t.as({ role: 'hub', hubId: w.hub });
    const producer = await t.as({ role: 'producer', producerId: w.farm });
    const attempts = await Promise.all([
      subscribe<FulfilmentEventShape>(hub, FULFILMENT, { producerId: w.farm }),
      subscribe<FulfilmentEventShape>(hub, FULFILMENT, { hubId: other.hub }),
      subscribe<FulfilmentEventShape>(producer, FULFILMENT, { producerId: other.farm }),
    ]);
    for (const sub of attempts) {
      await waitFor('the refusal', async () => (sub.errors.length > 0 ? true : undefined));
      expect(JSON.stringify(sub.errors)).toContain('FORBIDDEN');
      await sub.close();
    }
  });

  it('refuses a stream that names both a producer and a hub, an empty id counting as one named', async () => {
    const w = await world(t);
    const producer = await t.as({ role: 'producer', producerId: w.farm });
    for (const variables of [{ producerId: w.farm, hubId: '' }, { producerId: w.farm, hubId: w.hub }, { producerId: '' }]) {
      const sub = await subscribe<FulfilmentEventShape>(producer, FULFILMENT, variables);
      await waitFor('the refusal', async () => (sub.errors.length > 0 ? true : undefined));
      expect(JSON.stringify(sub.errors)).toContain('BAD_USER_INPUT');
      await sub.close();
    }
  });
});
