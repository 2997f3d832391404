// A failing endpoint with a backlog must not hold up other endpoints (README, Webhooks,
// "For operators": up to 16 deliveries at once, at most 4 to one webhook; other endpoints go on).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createProducer, createProduct } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';
import { LOOPBACK_RECEIVERS_ENV, startWebhookReceiver } from '../support/webhook-receiver.js';

type Receiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

const REGISTER = `mutation ($input: RegisterWebhookInput!) {
  registerWebhook(input: $input) { webhook { id } userErrors { field message code } } }`;

describe('webhook dispatch fairness', () => {
  let t: TestApp;
  const receivers: Receiver[] = [];
  beforeEach(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', env: LOOPBACK_RECEIVERS_ENV });
  });
  afterEach(async () => {
    await t.stop();
    for (const r of receivers.splice(0)) await r.close();
  });

  async function register(input: Record<string, unknown>): Promise<string> {
    const { registerWebhook } = await t.api.data<{ registerWebhook: { webhook: { id: string }; userErrors: unknown[] } }>(REGISTER, { input });
    expect(registerWebhook.userErrors).toEqual([]);
    return registerWebhook.webhook.id;
  }

  it('sends a healthy endpoint its delivery while a failing endpoint works through its backlog', async () => {
    const failing = await startWebhookReceiver();
    const healthy = await startWebhookReceiver();
    receivers.push(failing, healthy);
    failing.state.failures = 1_000_000; // answers 503 at once, every time

    // The failing endpoint's backlog: 150 events (each product's ADJUSTED, its own ordering
    // key), each tried once and failed; a minute later all 150 are due again.
    const farm = await createProducer(t.api, 'Farm');
    await register({ url: failing.url, kinds: ['ADJUSTED'], producerId: farm });
    for (let i = 0; i < 150; i += 1) await createProduct(t.api, farm, { name: `Leeks ${i}`, onHand: '1' });
    await waitFor('every backlog delivery to be tried once', async () => (failing.requests() === 150 ? true : undefined));
    await t.app.webhooks.idle();

    // Another producer's endpoint gets one event, which fails once (a blip): its retry is due
    // in a second, so it waits among the failing endpoint's retries.
    const other = await createProducer(t.api, 'Other farm');
    await register({ url: healthy.url, kinds: ['ADJUSTED'], producerId: other });
    healthy.state.failures = 1;
    await createProduct(t.api, other, { name: 'Kale', onHand: '3' });
    await waitFor('the healthy endpoint to be tried once', async () => (healthy.requests() === 1 ? true : undefined));
    await t.app.webhooks.idle();

    // A minute later all of them are due at once, the failing endpoint's 150 first.
    t.clock.advance({ minutes: 1 });
    t.app.webhooks.wake();
    await waitFor('the healthy endpoint to get its delivery', async () => (healthy.accepted().length === 1 ? true : undefined));

    // 16 slots, at most 4 of them for the failing endpoint: the healthy endpoint's delivery goes
    // out in the first claim, not after the failing one has been retried through most of its
    // backlog (about 90 retries when a claim took the oldest due rows whoever they were for).
    // While it is on its way, the failing endpoint's next claims go on: a few rounds of 4.
    const retriesBefore = failing.requests() - 151;
    expect(retriesBefore).toBeLessThanOrEqual(40);
  });
});
