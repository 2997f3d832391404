// Each quantity a client sends is capped (999,999,999), but stock adds up: a level or a lot that
// would pass what the database keeps (numeric(15,3)) is a typed refusal that changes nothing, and
// a product whose locations together hold more than one level can still be sold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addLocation, locationsOf } from '../fulfilment/support.js';
import { expectStockConsistent } from '../support/invariants.js';
import * as op from '../support/operations.js';
import { checkout, createHub, createProducer, createProduct, createSession } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

const NEARLY_FULL = '999999999999';

describe('stock that adds up past what a level keeps', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  /** Stock received over the years at a location, as a thousand full adjustments would leave it (ledger and level). */
  async function fill(productId: string, locationId: string): Promise<void> {
    await t.db.query(
      "INSERT INTO stock_movement (product_id, location_id, kind, on_hand_delta, reason, created_at) VALUES ($1, $2, 'ADJUST', $3, 'years of harvests', now())",
      [productId, locationId, NEARLY_FULL],
    );
    await t.db.query('UPDATE stock_level SET on_hand = on_hand + $3 WHERE product_id = $1 AND location_id = $2', [productId, locationId, NEARLY_FULL]);
  }

  it('refuses an adjustment past the most a level keeps with INVALID_INPUT, and changes nothing', async () => {
    const farm = await createProducer(t.api, 'Silo farm');
    const wheat = await createProduct(t.api, farm, { name: 'Wheat' });
    const [main] = await locationsOf(t.api, farm);
    await fill(wheat, main!.id);
    const before = await t.db.query('SELECT on_hand::text, (SELECT count(*) FROM stock_movement WHERE product_id = $1)::int AS moves FROM stock_level WHERE product_id = $1', [wheat]);

    const { adjustStock } = await t.api.data<{ adjustStock: { userErrors: { code: string; message: string }[] } }>(op.ADJUST_STOCK, { input: { productId: wheat, delta: '999999999' } });
    expect(adjustStock.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', message: expect.stringContaining('999,999,999,999.999') })]);
    expect((await t.db.query('SELECT on_hand::text, (SELECT count(*) FROM stock_movement WHERE product_id = $1)::int AS moves FROM stock_level WHERE product_id = $1', [wheat])).rows).toEqual(before.rows);
    await expectStockConsistent(t.db);
  });

  it('sells a product whose locations together hold more than one level can', async () => {
    const farm = await createProducer(t.api, 'Two silos');
    const [main] = await locationsOf(t.api, farm);
    const second = await addLocation(t.api, farm, 'Second silo', 2);
    const barley = await createProduct(t.api, farm, { name: 'Barley' });
    await fill(barley, main!.id);
    await fill(barley, second);
    const session = await createSession(t.api, await createHub(t.api, 'Grain hub'), {
      opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-27T18:00:00+01:00', products: [barley],
    });
    const order = await checkout(t.api, session.id, 'mill', [{ offerId: session.offerFor(barley), quantity: '1' }]);
    expect(order.userErrors).toEqual([]);
    const { rows } = await t.db.query("SELECT available::text FROM domain_event WHERE product_id = $1 AND kind = 'HELD'", [barley]);
    expect(rows).toEqual([{ available: '1999999999997.000' }]);
    await expectStockConsistent(t.db);
  });
});
