// A product's details beyond name, SKU and unit (DESIGN.md's domain model): description, GTIN,
// sellable step, net weight, dimensions and wholesale price; who reads the price; and checkouts
// held to whole steps.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGtin } from '../../src/modules/catalogue/product-details.js';
import { allAtOnce } from '../support/at-once.js';
import { lockedElsewhere } from '../support/locked-elsewhere.js';
import * as op from '../support/operations.js';
import { approveHub, checkout, createHub, createProducer, createSession, stockOf } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

const DETAILS = 'id name sku unit description gtin sellableStep netWeightKg dimensions { lengthCm widthCm heightCm }';
const CREATE = `mutation ($input: CreateProductInput!) { createProduct(input: $input) { product { ${DETAILS} } userErrors { field message code } } }`;
const UPDATE = `mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { product { ${DETAILS} wholesalePrice { amount currency } } userErrors { field message code } } }`;

type ProductShape = Record<string, unknown> & { id: string };
type Payload = { product: ProductShape | null; userErrors: { field: string[] | null; message: string; code: string }[] };

describe("a product's details", () => {
  let t: TestApp;
  let producer: string;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    producer = await createProducer(t.api, 'Fromagerie Roux');
  });
  afterAll(() => t.stop());

  const create = async (fields: Record<string, unknown>) =>
    (await t.api.data<{ createProduct: Payload }>(CREATE, { input: { producerId: producer, name: 'Tomme', sku: `T-${randomUUID().slice(0, 8)}`, unit: 'each', ...fields } })).createProduct;
  const update = async (productId: string, fields: Record<string, unknown>, api = t.api) =>
    (await api.data<{ updateProduct: Payload }>(UPDATE, { input: { productId, ...fields } })).updateProduct;
  const productRow = async (id: string) => (await t.db.query('SELECT * FROM product WHERE id = $1', [id])).rows[0];

  it('are kept as given, and a product without them sells any quantity', async () => {
    const made = await create({
      description: '  A mountain cheese, aged eight weeks. ',
      gtin: '4006381333931',
      sellableStep: '0.250',
      netWeightKg: '1.2',
      dimensions: { lengthCm: '20', widthCm: '20', heightCm: '8.5' },
      wholesalePrice: { amount: 1450, currency: 'EUR' },
    });
    expect(made.userErrors).toEqual([]);
    expect(made.product).toMatchObject({
      description: 'A mountain cheese, aged eight weeks.',
      gtin: '4006381333931',
      sellableStep: '0.25',
      netWeightKg: '1.2',
      dimensions: { lengthCm: '20', widthCm: '20', heightCm: '8.5' },
    });
    const { product } = await t.api.data<{ product: ProductShape }>(`query ($id: ID!) { product(id: $id) { ${DETAILS} wholesalePrice { amount currency } } }`, { id: made.product!.id });
    expect(product).toEqual({ ...made.product, wholesalePrice: { amount: 1450, currency: 'EUR' } });

    const plain = await create({});
    expect(plain.product).toMatchObject({ description: null, gtin: null, sellableStep: '0.001', netWeightKg: null, dimensions: null });
  });

  it.each([
    ['a GTIN whose check digit is wrong', { gtin: '4006381333932' }, ['gtin']],
    ['a GTIN of 11 digits', { gtin: '40063813339' }, ['gtin']],
    ['a GTIN with letters', { gtin: '400638133393A' }, ['gtin']],
    ['a step of zero', { sellableStep: '0' }, ['sellableStep']],
    ['a step finer than a gram', { sellableStep: '0.0005' }, ['sellableStep']],
    ['a negative weight', { netWeightKg: '-1' }, ['netWeightKg']],
    ['a dimension of zero', { dimensions: { lengthCm: '20', widthCm: '0', heightCm: '8' } }, ['dimensions', 'widthCm']],
    ['a price in no currency', { wholesalePrice: { amount: 100, currency: 'euro' } }, ['wholesalePrice', 'currency']],
    ['a negative price', { wholesalePrice: { amount: -1, currency: 'EUR' } }, ['wholesalePrice', 'amount']],
    ['a description of 5,001 characters', { description: 'x'.repeat(5001) }, ['description']],
  ])('refuses %s, making nothing', async (_name, fields, field) => {
    const before = (await t.db.query('SELECT count(*)::int AS n FROM product')).rows[0].n;
    const refused = await create(fields);
    expect(refused.product).toBeNull();
    expect(refused.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field })]);
    expect((await t.db.query('SELECT count(*)::int AS n FROM product')).rows[0].n).toBe(before);
  });

  it('checks GTIN check digits as GS1 does, for every length', () => {
    // GTIN-8, UPC-A (GTIN-12), EAN-13 and GTIN-14 examples, each valid only with its own check digit.
    for (const valid of ['96385074', '036000291452', '4006381333931', '10614141000415']) {
      expect(isGtin(valid)).toBe(true);
      const wrong = valid.slice(0, -1) + String((Number(valid.at(-1)) + 1) % 10);
      expect(isGtin(wrong)).toBe(false);
    }
  });

  it('a retried creation with the same details replays it; other details under its SKU are refused', async () => {
    const input = { sku: `R-${randomUUID().slice(0, 8)}`, sellableStep: '0.5', gtin: '96385074' };
    const first = await create(input);
    const again = await create({ ...input, sellableStep: '0.500' });
    expect(again.product?.id).toBe(first.product!.id);
    const other = await create({ ...input, sellableStep: '1' });
    expect(other.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['sku'] })]);
  });

  it('a creation that leaves out details the product under its SKU has asks for another product, and is refused', async () => {
    const sku = `D-${randomUUID().slice(0, 8)}`;
    expect((await create({ sku, sellableStep: '0.5', description: 'Aged', wholesalePrice: { amount: 900, currency: 'EUR' } })).userErrors).toEqual([]);
    const other = await create({ sku });
    expect(other.product).toBeNull();
    expect(other.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['sku'] })]);
  });

  it('counts a limit in characters, as PostgreSQL does, not in UTF-16 units', async () => {
    // 3,000 cheeses are 3,000 characters and 6,000 UTF-16 units.
    expect((await create({ description: '🧀'.repeat(3000) })).userErrors).toEqual([]);
    expect((await create({ name: '🧀'.repeat(200) })).userErrors).toEqual([]);
    expect((await create({ name: '🧀'.repeat(201) })).userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['name'] })]);
  });

  it('update changes what it names, clears what is null, and leaves the rest', async () => {
    const made = await create({ description: 'Soft', gtin: '96385074', netWeightKg: '0.5', dimensions: { lengthCm: '10', widthCm: '10', heightCm: '4' } });
    const id = made.product!.id;
    const updated = await update(id, { name: 'Tomme fraîche', description: null, dimensions: null, sellableStep: '1', wholesalePrice: { amount: 600, currency: 'EUR' } });
    expect(updated.userErrors).toEqual([]);
    expect(updated.product).toEqual({
      ...made.product,
      name: 'Tomme fraîche',
      description: null,
      dimensions: null,
      sellableStep: '1',
      wholesalePrice: { amount: 600, currency: 'EUR' },
    });
    const row = await productRow(id);
    expect([row.length_cm, row.width_cm, row.height_cm, row.gtin, row.net_weight_kg]).toEqual([null, null, null, '96385074', '0.500']);
  });

  it("update of a product's details waits for no checkout in flight: their order lines' foreign keys share the product", async () => {
    const made = await create({ description: 'Young' });
    // As a checkout's order line holds it until its commit.
    const line = await lockedElsewhere(t.db, 'SELECT 1 FROM product WHERE id = $1 FOR KEY SHARE', [made.product!.id]);
    try {
      // Answered while the share is held: it did not wait for it.
      expect(await update(made.product!.id, { description: 'Aged eight weeks' })).toMatchObject({ product: { description: 'Aged eight weeks' }, userErrors: [] });
    } finally {
      await line.release();
    }
  });

  it('update refuses what cannot change, changing nothing', async () => {
    const made = await create({ sku: `U-${randomUUID().slice(0, 8)}` });
    const taken = await create({ sku: `U-${randomUUID().slice(0, 8)}` });
    const id = made.product!.id;
    const before = await productRow(id);
    for (const [fields, field] of [
      [{ name: null }, ['name']],
      [{ sku: ' ' }, ['sku']],
      [{ sellableStep: null }, ['sellableStep']],
      [{ name: 'Renamed', gtin: '123' }, ['gtin']],
      [{ name: 'Renamed', sku: taken.product!.sku }, ['sku']],
    ] as const) {
      const refused = await update(id, fields);
      expect(refused.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field })]);
    }
    expect(await productRow(id)).toEqual(before);
    expect((await update(randomUUID(), { name: 'X' })).userErrors).toEqual([expect.objectContaining({ code: 'NOT_FOUND', field: ['productId'] })]);
  });

  it("is its producer's to update, and its wholesale price is for the hubs it approved and the producer, not storefront visitors or other producers", async () => {
    const made = await create({ wholesalePrice: { amount: 900, currency: 'EUR' } });
    const id = made.product!.id;
    const rival = await createProducer(t.api, 'Rival dairy');
    const hub = await createHub(t.api, 'Hub des Alpes');
    const asRival = await t.as({ role: 'producer', producerId: rival });

    expect((await update(id, { name: 'Stolen' }, asRival)).userErrors).toEqual([expect.objectContaining({ code: 'FORBIDDEN' })]);
    expect((await productRow(id)).name).toBe('Tomme');

    const priceOf = async (api: Awaited<ReturnType<TestApp['as']>>) =>
      api.request<{ product: { name: string; wholesalePrice: unknown } }>('query ($id: ID!) { product(id: $id) { name wholesalePrice { amount } } }', { id });
    // A hub the producer has not approved: not its business. On sale nowhere, the product is not
    // even its to read (seesProductsOffSale()); on sale, its price is FORBIDDEN (below).
    const unapproved = await priceOf(await t.as({ role: 'hub', hubId: hub }));
    expect({ product: unapproved.data?.product, errors: unapproved.errors }).toEqual({ product: null, errors: undefined });
    await approveHub(t.api, producer, hub);
    expect((await priceOf(await t.as({ role: 'hub', hubId: hub }))).data?.product.wholesalePrice).toEqual({ amount: 900 });
    expect((await priceOf(await t.as({ role: 'producer', producerId: producer }))).data?.product.wholesalePrice).toEqual({ amount: 900 });
    // On sale nowhere: not in the catalogue, so nothing of it for a caller without a token.
    expect((await priceOf(await t.as())).data?.product).toBeNull();
    await createSession(t.api, hub, { opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [id] });
    const unapprovedHub = await t.as({ role: 'hub', hubId: await createHub(t.api, 'Hub never approved') });
    for (const [caller, code] of [[await t.as(), 'UNAUTHENTICATED'], [await t.as({ role: 'customer', hubId: hub, customerRef: 'ali' }), 'FORBIDDEN'], [asRival, 'FORBIDDEN'], [unapprovedHub, 'FORBIDDEN']] as const) {
      const answer = await priceOf(caller);
      expect(answer.data?.product?.wholesalePrice ?? null).toBeNull();
      expect(answer.errors?.map((e) => e.extensions?.code)).toEqual([code]);
    }
  });

  it('a checkout line must be a whole number of steps; lines of the same offer count together', async () => {
    const made = await create({ unit: 'kg', sellableStep: '0.5' });
    const cheese = made.product!.id;
    await t.api.data(op.ADJUST_STOCK, { input: { productId: cheese, delta: '10' } });
    const hub = await createHub(t.api, 'Hub du Marché');
    const session = await createSession(t.api, hub, { opensAt: '2026-11-23T08:00:00+01:00', closesAt: '2026-11-23T20:00:00+01:00', products: [cheese] });
    const offerId = session.offerFor(cheese);

    const refused = await checkout(t.api, session.id, 'ali', [{ offerId, quantity: '1.25' }]);
    expect(refused.customerOrder).toBeNull();
    expect(refused.userErrors).toEqual([{ code: 'INVALID_INPUT', field: ['lines', '0', 'quantity'], message: expect.stringContaining('steps of 0.5 kg') }]);
    expect((await stockOf(t.api, cheese)).held).toBe('0');

    const halves = await checkout(t.api, session.id, 'ali', [{ offerId, quantity: '0.75' }, { offerId, quantity: '0.25' }]);
    expect(halves.userErrors).toEqual([]);
    const whole = await checkout(t.api, session.id, 'bea', [{ offerId, quantity: '1.5' }]);
    expect(whole.userErrors).toEqual([]);
    expect((await stockOf(t.api, cheese)).held).toBe('2.5');

    // A new step applies from then on.
    expect((await update(cheese, { sellableStep: '1' })).userErrors).toEqual([]);
    const afterChange = await checkout(t.api, session.id, 'cyd', [{ offerId, quantity: '0.5' }]);
    expect(afterChange.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['lines', '0', 'quantity'] })]);
  });
});

describe('two products swapping SKUs at once', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
  });
  afterAll(() => t.stop());

  it('each hears its new SKU is taken, as it would alone, never INTERNAL_SERVER_ERROR', async () => {
    // Each UPDATE writes its new row, then checks the unique index and finds the other's old row
    // being changed: each waits for the other, and PostgreSQL fails one (40P01). The window is
    // microseconds; an index just before the unique one, slow for these SKUs, widens it (this
    // test's own database: the constraint is made again, unchanged, so that it is checked after).
    await t.db.query(`CREATE FUNCTION slow_sku(sku varchar) RETURNS varchar IMMUTABLE LANGUAGE plpgsql AS $$
      BEGIN IF sku LIKE 'SWAP-%' THEN PERFORM pg_sleep(0.5); END IF; RETURN sku; END $$`);
    await t.db.query('CREATE INDEX slow_sku ON product (slow_sku(sku))');
    await t.db.query('ALTER TABLE product DROP CONSTRAINT product_producer_id_sku_unique, ADD CONSTRAINT product_producer_id_sku_unique UNIQUE (producer_id, sku)');
    const producer = await createProducer(t.api, 'Swapping farm');
    const make = async (sku: string) =>
      (await t.api.data<{ createProduct: Payload }>(CREATE, { input: { producerId: producer, name: sku, sku, unit: 'kg' } })).createProduct.product!.id;
    const update = (productId: string, sku: string) =>
      t.api.request<{ updateProduct: Payload }>(UPDATE, { input: { productId, sku } });
    const a = await make('SWAP-X');
    const b = await make('SWAP-Y');
    const deadlocks = async () => Number((await t.db.query('SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()')).rows[0].deadlocks);
    const deadlocksBefore = await deadlocks();

    const answers = await allAtOnce(
      t.db,
      (gate) => gate.query('SELECT 1 FROM product WHERE id = ANY($1) FOR UPDATE', [[a, b]]),
      () => [update(a, 'SWAP-Y'), update(b, 'SWAP-X')],
    );
    for (const answer of answers) {
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.updateProduct.userErrors).toEqual([expect.objectContaining({ code: 'INVALID_INPUT', field: ['sku'] })]);
    }
    const { rows } = await t.db.query('SELECT id, sku FROM product WHERE id = ANY($1) ORDER BY sku', [[a, b]]);
    expect(rows).toEqual([{ id: a, sku: 'SWAP-X' }, { id: b, sku: 'SWAP-Y' }]);
    // The deadlock this is about did happen (PostgreSQL counts it once the victim's backend reports
    // its statistics, within seconds): else the two would only have met the unique index in turn.
    await waitFor('PostgreSQL to count the deadlock', async () => ((await deadlocks()) > deadlocksBefore ? true : undefined));
  }, 40_000);
});
