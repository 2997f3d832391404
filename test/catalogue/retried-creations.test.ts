import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { createProducer, type UserErrorShape } from '../support/scenarios.js';
import { startTestApp, type TestApp } from '../support/test-app.js';

// A producer's system that sends createProduct, createLocation or receiveLot again because the
// first answer was lost must get what the first call made, not an error it would take for a failure.
// The SKU, the location's name and the lot's code name what they create: the same request under
// that name is the same thing; a different one is refused.

const CREATE_LOCATION = `mutation ($input: CreateLocationInput!) { createLocation(input: $input) { location { id name priority } userErrors { field message code } } }`;
const RECEIVE_LOT = `mutation ($input: ReceiveLotInput!) { receiveLot(input: $input) { lot { id code quantity status } userErrors { field message code } } }`;
const MOVE_LOT = `mutation ($input: MoveLotInput!) { moveLot(input: $input) { lot { id } userErrors { field message code } } }`;

type Payload<K extends string, T> = Record<K, ({ [key in 'product' | 'location' | 'lot']?: T } & { userErrors: UserErrorShape[] })>;

describe('creations sent again', () => {
  let t: TestApp;
  let farm: string;
  beforeAll(async () => {
    t = await startTestApp();
    farm = await createProducer(t.api, 'Ferme des Prés');
  });
  afterAll(() => t.stop());

  const rows = async (sql: string, params: unknown[]) => (await t.db.query(sql, params)).rows;

  it('answers a repeated createProduct with the product it made, and refuses another product under that SKU', async () => {
    const create = async (input: Record<string, unknown>) =>
      (await t.api.data<Payload<'createProduct', { id: string; name: string }>>(op.CREATE_PRODUCT, { input })).createProduct;
    const input = { producerId: farm, name: 'Leeks', sku: 'LEEK-1', unit: 'kg' };
    const first = await create(input);
    expect(first.userErrors).toEqual([]);
    const again = await create({ ...input, name: ' Leeks ', producerId: farm.toUpperCase() });
    expect(again).toEqual(first);

    const other = await create({ ...input, name: 'Baby leeks' });
    expect(other.product).toBeNull();
    expect(other.userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['sku'] }]);
    expect(other.userErrors[0]!.message).toContain('"Leeks", in kg');
    expect(await rows('SELECT name FROM product WHERE sku = $1', ['LEEK-1'])).toEqual([{ name: 'Leeks' }]);
    // Its stock levels were made once, one per location.
    expect(await rows('SELECT count(*)::int AS n FROM stock_level WHERE product_id = $1', [first.product!.id])).toEqual([{ n: 1 }]);

    // Renamed since, it is still what that request made: it answers with it, as it is now.
    const renamed = await t.api.data<{ updateProduct: { userErrors: unknown[] } }>(
      'mutation ($input: UpdateProductInput!) { updateProduct(input: $input) { userErrors { code } } }',
      { input: { productId: first.product!.id, name: 'Winter leeks' } },
    );
    expect(renamed.updateProduct.userErrors).toEqual([]);
    expect(await create(input)).toEqual({ ...first, product: { ...first.product, name: 'Winter leeks' } });
    expect((await create({ ...input, name: 'Winter leeks' })).userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['sku'] }]);
  });

  it('answers a repeated createLocation with the location it made, and refuses one of that name at another priority', async () => {
    const create = async (input: Record<string, unknown>) =>
      (await t.api.data<Payload<'createLocation', { id: string }>>(CREATE_LOCATION, { input })).createLocation;
    const first = await create({ producerId: farm, name: 'Cold store', priority: 2 });
    expect(first.userErrors).toEqual([]);
    expect(await create({ producerId: farm, name: 'Cold store', priority: 2 })).toEqual(first);
    const other = await create({ producerId: farm, name: 'Cold store', priority: 3 });
    expect(other.userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['name'] }]);
    expect(await rows('SELECT priority FROM location WHERE producer_id = $1 AND name = $2', [farm, 'Cold store'])).toEqual([{ priority: 2 }]);

    // Given another priority since, the location is still what that request made: it answers with it, as it is now.
    const moved = await t.api.data<{ updateLocation: { userErrors: unknown[] } }>(
      'mutation ($input: UpdateLocationInput!) { updateLocation(input: $input) { userErrors { code } } }',
      { input: { locationId: first.location!.id, priority: 4 } },
    );
    expect(moved.updateLocation.userErrors).toEqual([]);
    expect(await create({ producerId: farm, name: 'Cold store', priority: 2 })).toEqual({ location: { ...first.location, priority: 4 }, userErrors: [] });
    expect((await create({ producerId: farm, name: 'Cold store', priority: 4 })).userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['name'] }]);
    expect(await rows('SELECT count(*)::int AS n FROM location WHERE producer_id = $1', [farm])).toEqual([{ n: 2 }]);
  });

  it('answers a repeated receiveLot with the lot it made, adding no stock, and refuses another lot under that code', async () => {
    const { createProduct } = await t.api.data<Payload<'createProduct', { id: string }>>(op.CREATE_PRODUCT, {
      input: { producerId: farm, name: 'Tomme', sku: 'TOMME-1', unit: 'kg' },
    });
    const tomme = createProduct.product!.id;
    const receive = async (input: Record<string, unknown>) =>
      (await t.api.data<Payload<'receiveLot', { id: string }>>(RECEIVE_LOT, { input })).receiveLot;
    const input = { productId: tomme, code: 'B-1147', kind: 'BATCH', quantity: '12', grade: 'EXTRA', harvestedOn: '2026-11-20', released: true };
    const first = await receive(input);
    expect(first.userErrors).toEqual([]);
    expect(await receive({ ...input, quantity: '12.000' })).toEqual(first);
    expect(await rows('SELECT sum(on_hand)::text AS on_hand FROM stock_level WHERE product_id = $1', [tomme])).toEqual([{ on_hand: '12.000' }]);

    for (const different of [{ quantity: '13' }, { grade: 'CLASS_I' }, { released: false }, { harvestedOn: null }]) {
      const refused = await receive({ ...input, ...different });
      expect(refused.userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['code'] }]);
    }
    expect(await rows('SELECT count(*)::int AS n, sum(quantity)::text AS quantity FROM lot WHERE product_id = $1', [tomme])).toEqual([{ n: 1, quantity: '12.000' }]);
    expect(await rows('SELECT sum(on_hand)::text AS on_hand FROM stock_level WHERE product_id = $1', [tomme])).toEqual([{ on_hand: '12.000' }]);
  });

  it('answers a repeated receiveLot with the lot even after it was moved, and still refuses another lot under that code', async () => {
    const { createProduct } = await t.api.data<Payload<'createProduct', { id: string }>>(op.CREATE_PRODUCT, {
      input: { producerId: farm, name: 'Comté', sku: 'COMTE-1', unit: 'kg' },
    });
    const comte = createProduct.product!.id;
    const receive = async (input: Record<string, unknown>) =>
      (await t.api.data<Payload<'receiveLot', { id: string; quantity: string }>>(RECEIVE_LOT, { input })).receiveLot;
    const input = { productId: comte, code: 'C-22', kind: 'ITEM', quantity: '40', grade: 'EXTRA', released: true };
    const first = await receive(input);
    expect(first.userErrors).toEqual([]);

    // The wheel goes to the cellar before the producer's retry of the receipt arrives.
    const { createLocation } = await t.api.data<Payload<'createLocation', { id: string }>>(CREATE_LOCATION, {
      input: { producerId: farm, name: 'Cellar', priority: 5 },
    });
    const { moveLot } = await t.api.data<Payload<'moveLot', { id: string }>>(MOVE_LOT, {
      input: { lotId: first.lot!.id, toLocationId: createLocation.location!.id },
    });
    expect(moveLot.userErrors).toEqual([]);

    const again = await receive({ ...input, quantity: '40.0' });
    expect(again.userErrors).toEqual([]);
    expect(again.lot).toEqual(first.lot);
    expect(await rows('SELECT l.name, s.on_hand::text FROM stock_level s JOIN location l ON l.id = s.location_id WHERE s.product_id = $1 AND s.on_hand <> 0', [comte]))
      .toEqual([{ name: 'Cellar', on_hand: '40.000' }]);

    const other = await receive({ ...input, grade: 'CLASS_I' });
    expect(other.userErrors).toMatchObject([{ code: 'INVALID_INPUT', field: ['code'] }]);
    expect(await rows('SELECT count(*)::int AS n FROM lot WHERE product_id = $1', [comte])).toEqual([{ n: 1 }]);
  });
});
