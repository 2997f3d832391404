// A product whose stock levels another transaction keeps locked (another replica completing a
// large session, a session cancel): the scheduler waits for it once a pass, leaves its lapsed
// holds and sessions for the next tick, and does everything else in the same tick.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStockConsistent } from '../support/invariants.js';
import { levelsLockedElsewhere } from '../support/locked-elsewhere.js';
import * as op from '../support/operations.js';
import { checkout, createHub, createProducer, createProduct, createSession, orderMutation, sessionView } from '../support/scenarios.js';
import { capturedLogs, startTestApp, type TestApp } from '../support/test-app.js';

describe('the scheduler and a busy product', () => {
  let t: TestApp;
  const logs = capturedLogs();
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00', logger: logs.logger });
  });
  afterAll(() => t.stop());

  /** What the last tick's pass of `job` left for the next tick. */
  const leftBusy = (job: string) => logs.lines.filter((l) => l.job === job && l.msg === 'scheduler job left busy items for the next tick').at(-1);
  const statusOf = async (orderId: string) =>
    (await t.api.data<{ customerOrder: { status: string } }>(op.CUSTOMER_ORDER_QUERY, { id: orderId })).customerOrder.status;

  it('waits for its stock once a pass, and completes the sessions and expires the holds of other products meanwhile', async () => {
    const jean = await createProducer(t.api, 'Jean');
    const strawberries = await createProduct(t.api, jean, { name: 'Strawberries', onHand: '100' });
    const leeks = await createProduct(t.api, jean, { name: 'Leeks', onHand: '100' });
    const [hubA, hubB, hubC] = [await createHub(t.api, 'Hub A'), await createHub(t.api, 'Hub B'), await createHub(t.api, 'Hub C')];
    const later = { opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00' };
    const soon = { opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-23T09:20:00+01:00' };
    const flashSale = await createSession(t.api, hubA, { ...later, products: [strawberries, leeks] });
    const closingB = await createSession(t.api, hubB, { ...soon, products: [strawberries] });
    const closingC = await createSession(t.api, hubC, { ...soon, products: [strawberries, leeks] });
    const leeksOnly = await createSession(t.api, hubA, { ...soon, products: [leeks] });

    // Six strawberry holds that will lapse unpaid, one leek hold that will too, and paid orders
    // in the three sessions that close at 09:20.
    const unpaid = [];
    for (let i = 0; i < 6; i += 1) unpaid.push((await checkout(t.api, flashSale.id, `abandoned ${i}`, [{ offerId: flashSale.offerFor(strawberries), quantity: '1' }])).customerOrder!.id);
    const unpaidLeeks = (await checkout(t.api, flashSale.id, 'abandoned leeks', [{ offerId: flashSale.offerFor(leeks), quantity: '1' }])).customerOrder!.id;
    for (const [session, product] of [[closingB, strawberries], [closingC, strawberries], [leeksOnly, leeks]] as const) {
      const placed = await checkout(t.api, session.id, 'pays', [{ offerId: session.offerFor(product), quantity: '2' }]);
      expect((await orderMutation(t.api, op.CONFIRM_PAYMENT, placed.customerOrder!.id)).customerOrder?.status).toBe('CONFIRMED');
    }

    t.clock.set('2026-11-23T09:30:00+01:00'); // every hold above has lapsed; three sessions are due
    const levels = await levelsLockedElsewhere(t.db, strawberries);
    try {
      await t.app.scheduler.runOnce();
    } finally {
      await levels.release();
    }
    // One strawberry hold waited for the levels; the other five were left without waiting.
    expect(leftBusy('expire-lapsed-holds')).toMatchObject({ busy: 1, skipped: 5 });
    // Sessions B and C sell strawberries: one waited, the other was left (C also sells leeks).
    expect(leftBusy('complete-closed-sessions')).toMatchObject({ busy: 1, skipped: 1 });
    // The rest was done in the same tick.
    expect(await statusOf(unpaidLeeks)).toBe('EXPIRED');
    expect((await sessionView(t.api, leeksOnly.id)).status).toBe('COMPLETED');
    for (const id of unpaid) expect(await statusOf(id)).toBe('PENDING_PAYMENT');
    expect((await sessionView(t.api, closingB.id)).status).toBe('CLOSED');
    expect((await sessionView(t.api, closingC.id)).status).toBe('CLOSED');

    // Once the levels are free, the next tick does what was left.
    const logged = logs.lines.length;
    await t.app.scheduler.runOnce();
    for (const id of unpaid) expect(await statusOf(id)).toBe('EXPIRED');
    expect((await sessionView(t.api, closingB.id)).status).toBe('COMPLETED');
    expect((await sessionView(t.api, closingC.id)).status).toBe('COMPLETED');
    expect(logs.lines.slice(logged).filter((l) => l.msg === 'scheduler job left busy items for the next tick')).toEqual([]);
    await expectStockConsistent(t.db);
  });

  it('leaves only what locks the busy product: a hold that shared it with a free one does not hold up the free one', async () => {
    t.clock.set('2026-11-24T09:00:00+01:00');
    const marie = await createProducer(t.api, 'Marie');
    const cherries = await createProduct(t.api, marie, { name: 'Cherries', onHand: '100' });
    const chard = await createProduct(t.api, marie, { name: 'Chard', onHand: '100' });
    const session = await createSession(t.api, await createHub(t.api, 'Hub D'), { opensAt: '2026-11-24T08:00:00+01:00', closesAt: '2026-11-24T20:00:00+01:00', products: [cherries, chard] });
    // The first to lapse locks both products; the next, only chard.
    const both = (await checkout(t.api, session.id, 'both', [{ offerId: session.offerFor(cherries), quantity: '1' }, { offerId: session.offerFor(chard), quantity: '1' }])).customerOrder!.id;
    t.clock.set('2026-11-24T09:01:00+01:00');
    const chardOnly = (await checkout(t.api, session.id, 'chard', [{ offerId: session.offerFor(chard), quantity: '1' }])).customerOrder!.id;

    t.clock.set('2026-11-24T10:00:00+01:00');
    const levels = await levelsLockedElsewhere(t.db, cherries);
    try {
      await t.app.scheduler.runOnce();
    } finally {
      await levels.release();
    }
    expect(await statusOf(both)).toBe('PENDING_PAYMENT');
    // Chard's levels were never busy, whatever the statement that waited for cherries had named.
    expect(await statusOf(chardOnly)).toBe('EXPIRED');
    expect(leftBusy('expire-lapsed-holds')).toMatchObject({ busy: 1, skipped: 0 });
    await t.app.scheduler.runOnce();
    expect(await statusOf(both)).toBe('EXPIRED');
    await expectStockConsistent(t.db);
  });
});
