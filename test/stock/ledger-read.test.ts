// Product.stockMovements: a producer asking "why is my stock 7?" reads the ledger its levels are
// the sum of, newest first, a page at a time; nobody else reads it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { adjustStock, checkout, orderMutation, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';

const LEDGER = `query ($id: ID!, $first: Int, $before: ID) { product(id: $id) { stockMovements(first: $first, before: $before) {
  id kind onHandDelta heldDelta committedDelta reason location { name } producerOrder { id } } } }`;

type Movement = { id: string; kind: string; onHandDelta: string; heldDelta: string; committedDelta: string; reason: string | null; location: { name: string }; producerOrder: { id: string } | null };

describe("a product's stock ledger", () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof openSessionWorld>>;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    w = await openSessionWorld(t.api, { carrots: '10' });
  });
  afterAll(() => t.stop());

  const ledger = async (variables: Record<string, unknown>, api = t.api) =>
    (await api.data<{ product: { stockMovements: Movement[] } }>(LEDGER, { id: w.carrots, ...variables })).product.stockMovements;

  it('lists every change, newest first, adding up to the levels, a page at a time', async () => {
    expect((await adjustStock(t.api, w.carrots, '-1.5', 'slugs')).userErrors).toEqual([]);
    const held = await checkout(t.api, w.session.id, 'ali', [{ offerId: w.session.offerFor(w.carrots), quantity: '2' }]);
    expect(held.userErrors).toEqual([]);
    expect((await orderMutation(t.api, op.CANCEL_CUSTOMER_ORDER, held.customerOrder!.id)).userErrors).toEqual([]);

    const asJean = await t.as({ role: 'producer', producerId: w.jean });
    const all = await ledger({}, asJean);
    expect(all.map((m) => [m.kind, m.onHandDelta, m.heldDelta, m.reason])).toEqual([
      ['RELEASE', '0', '-2', null],
      ['HOLD', '0', '2', null],
      ['ADJUST', '-1.5', '0', 'slugs'],
      ['ADJUST', '10', '0', 'initial stock'],
    ]);
    const [release, hold] = all;
    expect(release!.producerOrder?.id).toBeDefined();
    expect(hold!.producerOrder).toEqual(release!.producerOrder);
    const sum = (key: 'onHandDelta' | 'heldDelta' | 'committedDelta') => all.reduce((total, m) => total + Number(m[key]) * 1000, 0) / 1000;
    expect(await stockOf(t.api, w.carrots)).toMatchObject({ onHand: String(sum('onHandDelta')), held: String(sum('heldDelta')), committed: String(sum('committedDelta')) });

    const firstPage = await ledger({ first: 3 }, asJean);
    expect(firstPage.map((m) => m.id)).toEqual(all.slice(0, 3).map((m) => m.id));
    expect((await ledger({ first: 3, before: firstPage[2]!.id }, asJean)).map((m) => m.id)).toEqual([all[3]!.id]);
  });

  it("refuses a cursor that is not one of the product's movements, and is its producer's alone", async () => {
    const [newest] = await ledger({ first: 1 });
    const eggsLedger = await t.api.request(`query ($id: ID!, $before: ID) { product(id: $id) { stockMovements(before: $before) { id } } }`, { id: w.eggs, before: newest!.id });
    expect(eggsLedger.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    for (const before of ['0', 'x', '99999999999']) {
      const refused = await t.api.request(LEDGER, { id: w.carrots, before });
      expect(refused.errors?.map((e) => e.extensions?.code), before).toEqual(['BAD_USER_INPUT']);
    }

    const callers = [[await t.as({ role: 'producer', producerId: w.marie }), 'FORBIDDEN'], [await t.as({ role: 'hub', hubId: w.hub }), 'FORBIDDEN'], [await t.as(), 'UNAUTHENTICATED']] as const;
    for (const [caller, code] of callers) {
      const answer = await caller.request<{ product: { stockMovements: unknown } | null }>(LEDGER, { id: w.carrots });
      expect(answer.errors?.map((e) => e.extensions?.code)).toEqual([code]);
      expect(answer.data?.product ?? null).toBeNull();
    }
  });

  it('keeps a reason of up to 500 characters, counted as characters however many UTF-16 units they take', async () => {
    const reason = '🍎'.repeat(500);
    expect((await adjustStock(t.api, w.carrots, '1', reason)).userErrors).toEqual([]);
    const { createLocation } = await t.api.data<{ createLocation: { location: { id: string } } }>(
      'mutation ($input: CreateLocationInput!) { createLocation(input: $input) { location { id } } }',
      { input: { producerId: w.jean, name: 'Orchard shed', priority: 5 } },
    );
    const [main] = (await t.db.query<{ id: string }>('SELECT id FROM location WHERE producer_id = $1 ORDER BY priority LIMIT 1', [w.jean])).rows;
    const transfer = (why: string) =>
      t.api.data<{ transferStock: { userErrors: { code: string; field: string[] }[] } }>(op.TRANSFER_STOCK, {
        input: { productId: w.carrots, fromLocationId: main!.id, toLocationId: createLocation.location.id, quantity: '1', reason: why },
      });
    expect((await transfer(reason)).transferStock.userErrors).toEqual([]);
    expect((await ledger({ first: 3 })).map((m) => m.reason)).toEqual([reason, reason, reason]);
    // One more is too many, for both.
    expect((await adjustStock(t.api, w.carrots, '1', `${reason}x`)).userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['reason'] }]);
    expect((await transfer(`${reason}x`)).transferStock.userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['reason'] }]);
  });
});
