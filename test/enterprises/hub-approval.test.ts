// A producer sells through the hubs it chooses: a hub offers only the products of producers that
// approved it; a revocation stops new sessions, not those customers already bought in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import type { GraphQLClient } from '../support/graphql.js';
import { checkout, createHub, createProducer, createProduct } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const APPROVE = `mutation ($input: HubApprovalInput!) { approveHub(input: $input) { producer { id } hub { id } userErrors { field code } } }`;
const REVOKE = `mutation ($input: HubApprovalInput!) { revokeHub(input: $input) { producer { id } hub { id } userErrors { field code } } }`;

type Payload = { producer: { id: string } | null; hub: { id: string } | null; userErrors: { field: string[] | null; code: string }[] };
type SessionPayload = { salesSession: { id: string; offers: { id: string; product: { id: string } }[] } | null; userErrors: { field: string[] | null; code: string }[] };

describe('hubs approved by producers', () => {
  let t: TestApp;
  let farm: string;
  let bakery: string;
  let hub: string;
  let carrots: string;
  let bread: string;
  let asFarm: GraphQLClient;
  let asHub: GraphQLClient;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    farm = await createProducer(t.api, 'Farm');
    bakery = await createProducer(t.api, 'Bakery');
    hub = await createHub(t.api, 'Hub');
    carrots = await createProduct(t.api, farm, { name: 'Carrots', onHand: '10' });
    bread = await createProduct(t.api, bakery, { name: 'Bread', unit: 'each', onHand: '10' });
    asFarm = await t.as({ role: 'producer', producerId: farm });
    asHub = await t.as({ role: 'hub', hubId: hub });
  });
  afterAll(() => t.stop());

  const session = async (api: GraphQLClient, products: string[]) =>
    (await api.data<{ createSalesSession: SessionPayload }>(op.CREATE_SALES_SESSION, {
      input: {
        hubId: hub, opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', timeZone: 'Europe/Paris',
        offers: products.map((productId) => ({ productId, price: { amount: 300, currency: 'EUR' } })),
      },
    })).createSalesSession;
  const approval = async (api: GraphQLClient, mutation: string, producerId: string) =>
    Object.values(await api.data<Record<string, Payload>>(mutation, { input: { producerId, hubId: hub } }))[0]!;
  const sessions = async () => Number((await t.db.query('SELECT count(*) FROM sales_session')).rows[0].count);

  it("refuses a hub's session offering a producer's products the producer has not approved it for, making nothing", async () => {
    const before = await sessions();
    const refused = await session(asHub, [carrots, bread]);
    expect(refused.salesSession).toBeNull();
    expect(refused.userErrors).toEqual([expect.objectContaining({ code: 'FORBIDDEN', field: ['offers', '0', 'productId'] }), expect.objectContaining({ code: 'FORBIDDEN', field: ['offers', '1', 'productId'] })]);
    expect(await sessions()).toBe(before);
  });

  it('lets the hub offer them once the producer approved it, and lists who approved whom', async () => {
    expect(await approval(asFarm, APPROVE, farm)).toEqual({ producer: { id: farm }, hub: { id: hub }, userErrors: [] });
    // Again: nothing changes.
    expect((await approval(asFarm, APPROVE, farm)).userErrors).toEqual([]);

    const half = await session(asHub, [carrots, bread]);
    expect(half.userErrors).toEqual([expect.objectContaining({ code: 'FORBIDDEN', field: ['offers', '1', 'productId'] })]);
    const made = await session(asHub, [carrots]);
    expect(made.userErrors).toEqual([]);

    const { producer } = await asFarm.data<{ producer: { approvedHubs: { id: string }[] } }>('query ($id: ID!) { producer(id: $id) { approvedHubs { id } } }', { id: farm });
    expect(producer.approvedHubs).toEqual([{ id: hub }]);
    const { hub: seen } = await asHub.data<{ hub: { producers: { id: string }[] } }>('query ($id: ID!) { hub(id: $id) { producers { id } } }', { id: hub });
    expect(seen.producers).toEqual([{ id: farm }]);
  });

  it("is the producer's (or the operator's) to give: not a hub's, nor another producer's", async () => {
    const byHub = await asHub.request(APPROVE, { input: { producerId: bakery, hubId: hub } });
    expect(byHub.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    expect((await approval(asFarm, APPROVE, bakery)).userErrors).toEqual([{ code: 'FORBIDDEN', field: ['producerId'] }]);
    const secret = await asFarm.request('query ($id: ID!) { producer(id: $id) { approvedHubs { id } } }', { id: bakery });
    expect(secret.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    const other = await createHub(t.api, 'Other hub');
    const nosy = await (await t.as({ role: 'hub', hubId: other })).request('query ($id: ID!) { hub(id: $id) { producers { id } } }', { id: hub });
    expect(nosy.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    // The operator acts for every enterprise: its sessions need no approval.
    expect((await session(t.api, [bread])).userErrors).toEqual([]);
  });

  it('after a revocation refuses new sessions, and leaves the sessions made before open for business', async () => {
    expect((await approval(asFarm, APPROVE, farm)).userErrors).toEqual([]);
    const before = await session(asHub, [carrots]);
    expect(before.userErrors).toEqual([]);
    expect((await approval(asFarm, REVOKE, farm)).userErrors).toEqual([]);
    expect((await approval(asFarm, REVOKE, farm)).userErrors).toEqual([]);

    expect((await session(asHub, [carrots])).userErrors).toEqual([expect.objectContaining({ code: 'FORBIDDEN', field: ['offers', '0', 'productId'] })]);
    const bought = await checkout(asHub, before.salesSession!.id, 'ali', [{ offerId: before.salesSession!.offers[0]!.id, quantity: '1' }]);
    expect(bought.userErrors).toEqual([]);
  });
});
