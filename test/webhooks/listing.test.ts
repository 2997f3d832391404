// webhooks: an integration that lost a webhook's id finds its endpoints again, and sees only its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLClient } from '../support/graphql.js';
import { createHub, createProducer } from '../support/scenarios.js';
import { statementsFor } from '../support/statements.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const REGISTER = `mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { webhook { id } userErrors { code } } }`;
const REMOVE = `mutation ($id: ID!) { removeWebhook(input: { webhookId: $id }) { userErrors { code } } }`;
const LIST = `query ($active: Boolean, $first: Int, $after: ID) { webhooks(active: $active, first: $first, after: $after) { id url active hubId producerId } }`;

type Listed = { id: string; url: string; active: boolean; hubId: string | null; producerId: string | null };

describe('listing webhooks', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  const register = async (api: GraphQLClient, input: Record<string, unknown>) => {
    const { registerWebhook } = await api.data<{ registerWebhook: { webhook: { id: string }; userErrors: unknown[] } }>(REGISTER, { input });
    expect(registerWebhook.userErrors).toEqual([]);
    return registerWebhook.webhook.id;
  };
  const list = async (api: GraphQLClient, variables: Record<string, unknown> = {}) => (await api.data<{ webhooks: Listed[] }>(LIST, variables)).webhooks;

  it("lists an owner's webhooks oldest first, by whether they still send, a page at a time; nobody else's", async () => {
    const farm = await createProducer(t.api, 'Farm');
    const hub = await createHub(t.api, 'Hub');
    const asFarm = await t.as({ role: 'producer', producerId: farm });
    const asHub = await t.as({ role: 'hub', hubId: hub });

    const first = await register(asFarm, { url: 'https://farm.example.org/a', kinds: ['HELD'] });
    t.clock.advance({ seconds: 1 });
    const second = await register(asFarm, { url: 'https://farm.example.org/b', kinds: ['ADJUSTED'] });
    t.clock.advance({ seconds: 1 });
    const hubs = await register(asHub, { url: 'https://hub.example.org/h', kinds: ['SHIPPED'] });
    t.clock.advance({ seconds: 1 });
    // The operator's, for the hub and narrowed to the farm: the hub's (ownsWebhook), not the farm's.
    const narrowed = await register(t.api, { url: 'https://hub.example.org/j', kinds: ['HELD'], hubId: hub, producerId: farm });
    expect((await t.api.data<{ removeWebhook: { userErrors: unknown[] } }>(REMOVE, { id: first })).removeWebhook.userErrors).toEqual([]);

    expect(await list(asFarm)).toEqual([
      { id: first, url: 'https://farm.example.org/a', active: false, hubId: null, producerId: farm },
      { id: second, url: 'https://farm.example.org/b', active: true, hubId: null, producerId: farm },
    ]);
    expect((await list(asFarm, { active: true })).map((w) => w.id)).toEqual([second]);
    expect((await list(asFarm, { first: 1, after: first })).map((w) => w.id)).toEqual([second]);
    expect((await list(asHub)).map((w) => w.id)).toEqual([hubs, narrowed]);
    expect((await list(t.api)).map((w) => w.id)).toEqual(expect.arrayContaining([first, second, hubs, narrowed]));

    // Another owner's webhook is not a cursor of this list, nor listed.
    const otherFarm = await t.as({ role: 'producer', producerId: await createProducer(t.api, 'Other farm') });
    expect(await list(otherFarm)).toEqual([]);
    const refused = await otherFarm.request(LIST, { after: second });
    expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    const customer = await (await t.as({ role: 'customer', hubId: hub, customerRef: 'ali' })).request(LIST, {});
    expect(customer.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
  });

  it("reads every listed webhook's deliveries in one statement, however many webhooks there are", async () => {
    const hub = await createHub(t.api, 'Integrator hub');
    const asHub = await t.as({ role: 'hub', hubId: hub });
    const query = '{ webhooks(first: 500) { id deliveries(first: 1) { id } } }';
    const counts: number[] = [];
    for (const n of [2, 12]) {
      while ((await list(asHub)).length < n) await register(asHub, { url: `https://hub.example.org/${(await list(asHub)).length}`, kinds: ['HELD'] });
      // A variable unused but different each time: identical queries would share an answer.
      counts.push(await statementsFor((nonce) => asHub.data(query, { nonce })));
    }
    expect(counts[1]).toBe(counts[0]);
  });
});
