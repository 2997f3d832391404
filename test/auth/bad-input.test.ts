// Every mutation fed malformed and extreme values: each gets a typed error (a GraphQL error with a
// client code, or userErrors), never a 500, and the database is exactly as it was.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as op from '../support/operations.js';
import { startTestApp, type TestApp } from '../support/test-app.js';
import { openSessionWorld } from '../support/world.js';

const REGISTER_WEBHOOK = 'mutation ($input: RegisterWebhookInput!) { registerWebhook(input: $input) { webhook { id } userErrors { field message code } } }';
const REMOVE_WEBHOOK = 'mutation ($input: RemoveWebhookInput!) { removeWebhook(input: $input) { webhook { id } userErrors { field message code } } }';
const U = 'userErrors { field message code }';
const CREATE_LOCATION = `mutation ($input: CreateLocationInput!) { createLocation(input: $input) { location { id } ${U} } }`;
const UPDATE_LOCATION = `mutation ($input: UpdateLocationInput!) { updateLocation(input: $input) { location { id } ${U} } }`;
const TRANSFER_STOCK = `mutation ($input: TransferStockInput!) { transferStock(input: $input) { product { id } ${U} } }`;
const RECEIVE_LOT = `mutation ($input: ReceiveLotInput!) { receiveLot(input: $input) { lot { id } ${U} } }`;
const RELEASE_LOT = `mutation ($input: LotRefInput!) { releaseLot(input: $input) { lot { id } ${U} } }`;
const MOVE_LOT = `mutation ($input: MoveLotInput!) { moveLot(input: $input) { lot { id } ${U} } }`;
const SWAP_LOT = `mutation ($input: SwapLotInput!) { swapLot(input: $input) { producerOrder { id } ${U} } }`;
const SHIP = `mutation ($input: ShipProducerOrderInput!) { shipProducerOrder(input: $input) { producerOrder { id } ${U} } }`;
const SET_PRIORITY = `mutation ($input: SetCustomerPriorityInput!) { setCustomerPriority(input: $input) { customer { customerRef } ${U} } }`;
const CLIENT_CODES = ['BAD_USER_INPUT', 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'QUERY_TOO_COMPLEX'];
const USER_ERROR_CODES = ['INVALID_INPUT', 'NOT_FOUND', 'INSUFFICIENT_STOCK', 'SESSION_NOT_OPEN', 'INVALID_STATE', 'IDEMPOTENCY_CONFLICT'];

describe('bad input to every mutation', () => {
  let t: TestApp;
  let w: Awaited<ReturnType<typeof openSessionWorld>>;
  beforeAll(async () => {
    t = await startTestApp({ start: '2026-11-23T09:00:00+01:00' });
    w = await openSessionWorld(t.api);
  });
  afterAll(() => t.stop());

  /** Every table's row count and the stock totals: any change shows. */
  async function fingerprint() {
    const tables = ['producer', 'hub', 'product', 'stock_level', 'stock_movement', 'sales_session', 'offer', 'customer_order', 'customer_order_line',
      'producer_order', 'domain_event', 'webhook', 'location', 'lot', 'lot_pick', 'shipment_line', 'hub_customer'];
    const { rows } = await t.db.query(
      `SELECT ${tables.map((n) => `(SELECT count(*) FROM ${n})::int AS ${n}`).join(', ')},
              (SELECT coalesce(sum(on_hand + held + committed), 0)::text FROM stock_level) AS stock,
              (SELECT string_agg(status, ',' ORDER BY id) FROM customer_order) AS statuses,
              (SELECT string_agg(coalesce(closed_at::text, '-'), ',' ORDER BY id) FROM sales_session) AS closes`,
    );
    return rows[0];
  }

  const huge = 'x'.repeat(100_000);
  const checkoutInput = (change: Record<string, unknown>) => ({
    salesSessionId: w.session.id,
    customerRef: 'ali',
    idempotencyKey: randomUUID(),
    lines: [{ offerId: w.session.offerFor(w.carrots), quantity: '1' }],
    ...change,
  });
  const sessionInput = (change: Record<string, unknown>) => ({
    hubId: w.hub,
    opensAt: '2026-11-30T09:00:00+01:00',
    closesAt: '2026-12-04T18:00:00+01:00',
    timeZone: 'Europe/Paris',
    offers: [{ productId: w.carrots, price: { amount: 100, currency: 'EUR' } }],
    ...change,
  });

  const cases: [string, string, () => Record<string, unknown>][] = [
    ['createProducer: a number for a name', op.CREATE_PRODUCER, () => ({ input: { name: 42 } })],
    ['createProducer: a 100,000-character name', op.CREATE_PRODUCER, () => ({ input: { name: huge } })],
    ['createProducer: no input', op.CREATE_PRODUCER, () => ({})],
    ['createHub: null name', op.CREATE_HUB, () => ({ input: { name: null } })],
    ['createHub: whitespace name', op.CREATE_HUB, () => ({ input: { name: '   ' } })],
    ['createProduct: an id that is not one', op.CREATE_PRODUCT, () => ({ input: { producerId: "'; DROP TABLE product; --", name: 'A', sku: 'B', unit: 'kg' } })],
    ['createProduct: a huge SKU', op.CREATE_PRODUCT, () => ({ input: { producerId: w.jean, name: 'A', sku: huge, unit: 'kg' } })],
    ['adjustStock: a float delta', op.ADJUST_STOCK, () => ({ input: { productId: w.carrots, delta: 2.5 } })],
    ['adjustStock: an astronomical delta', op.ADJUST_STOCK, () => ({ input: { productId: w.carrots, delta: '9'.repeat(400) } })],
    ['adjustStock: an empty location id', op.ADJUST_STOCK, () => ({ input: { productId: w.carrots, delta: '1', locationId: '' } })],
    ['adjustStock: an empty lot id', op.ADJUST_STOCK, () => ({ input: { productId: w.carrots, delta: '-1', lotId: '' } })],
    ['adjustStock: scientific notation', op.ADJUST_STOCK, () => ({ input: { productId: w.carrots, delta: '1e3' } })],
    ['adjustStock: NaN', op.ADJUST_STOCK, () => ({ input: { productId: w.carrots, delta: 'NaN' } })],
    ['adjustStock: an integer past 2^53', op.ADJUST_STOCK, () => ({ input: { productId: w.carrots, delta: 2 ** 60 } })],
    ['createSalesSession: a date that is not one', op.CREATE_SALES_SESSION, () => ({ input: sessionInput({ opensAt: 'next Tuesday' }) })],
    ['createSalesSession: a close after the year 9999', op.CREATE_SALES_SESSION, () => ({ input: sessionInput({ closesAt: '+010000-01-01T00:00:00Z' }) })],
    ['createSalesSession: an opening in the year 0', op.CREATE_SALES_SESSION, () => ({ input: sessionInput({ opensAt: '0000-06-01T00:00:00Z' }) })],
    ['createSalesSession: a close in the year 10000 in its time zone', op.CREATE_SALES_SESSION, () => ({ input: sessionInput({ closesAt: '9999-12-31T23:00:00Z', timeZone: 'Pacific/Kiritimati' }) })],
    // No zone is more than 14 hours from UTC: read as it stands, the typo puts the session a day off.
    ['createSalesSession: an offset of +25:00', op.CREATE_SALES_SESSION, () => ({ input: sessionInput({ opensAt: '2026-11-24T08:00:00+25:00' }) })],
    ['createSalesSession: an offset of -14:30', op.CREATE_SALES_SESSION, () => ({ input: sessionInput({ closesAt: '2026-11-24T20:00:00-14:30' }) })],
    ['createSalesSession: a price past Int', op.CREATE_SALES_SESSION, () => ({ input: sessionInput({ offers: [{ productId: w.carrots, price: { amount: 2 ** 40, currency: 'EUR' } }] }) })],
    ['createSalesSession: 10,000 offers', op.CREATE_SALES_SESSION, () => ({ input: sessionInput({ offers: Array.from({ length: 10_000 }, () => ({ productId: randomUUID(), price: { amount: 1, currency: 'EUR' } })) }) })],
    ['createSalesSession: a huge time zone', op.CREATE_SALES_SESSION, () => ({ input: sessionInput({ timeZone: huge }) })],
    // A quote of its own in the value ends what is quoted early: the rest must not come back whole.
    ['createSalesSession: a huge time zone with a double quote in it', op.CREATE_SALES_SESSION, () => ({ input: sessionInput({ timeZone: `${'A'.repeat(100)}"${huge}` }) })],
    // Refused by the DateTime scalar, which (with graphql's own message for the variable) quotes it.
    ['createSalesSession: a 100,000-character DateTime', op.CREATE_SALES_SESSION, () => ({ input: sessionInput({ closesAt: `2026-11-24T20:00:00+01:00${huge}` }) })],
    ['closeSalesSession: an empty id', op.CLOSE_SALES_SESSION, () => ({ input: { salesSessionId: '' } })],
    ['checkout: a 10,000-line basket', op.CHECKOUT, () => ({ input: checkoutInput({ lines: Array.from({ length: 10_000 }, () => ({ offerId: w.session.offerFor(w.carrots), quantity: '1' })) }) })],
    ['checkout: minus zero', op.CHECKOUT, () => ({ input: checkoutInput({ lines: [{ offerId: w.session.offerFor(w.carrots), quantity: '-0' }] }) })],
    ['checkout: a huge idempotency key', op.CHECKOUT, () => ({ input: checkoutInput({ idempotencyKey: huge }) })],
    ['checkout: lines of the wrong shape', op.CHECKOUT, () => ({ input: checkoutInput({ lines: [{ offer: 'x', qty: 1 }] }) })],
    ['checkout: more than there is', op.CHECKOUT, () => ({ input: checkoutInput({ lines: [{ offerId: w.session.offerFor(w.bread), quantity: '999999999' }] }) })],
    ['confirmPayment: a huge id', op.CONFIRM_PAYMENT, () => ({ input: { customerOrderId: huge } })],
    ['failPayment: an unknown order', op.FAIL_PAYMENT, () => ({ input: { customerOrderId: randomUUID() } })],
    ['cancelCustomerOrder: an array for an id', op.CANCEL_CUSTOMER_ORDER, () => ({ input: { customerOrderId: ['a', 'b'] } })],
    ['registerWebhook: a javascript: URL', REGISTER_WEBHOOK, () => ({ input: { url: 'javascript:alert(1)', kinds: ['HELD'] } })],
    ['registerWebhook: no kinds', REGISTER_WEBHOOK, () => ({ input: { url: 'https://example.org/hook', kinds: [] } })],
    // An empty id names nothing: it is not an id left out (which would mean the operator's webhook, or the first-choice location).
    ['registerWebhook: an empty producerId', REGISTER_WEBHOOK, () => ({ input: { url: 'https://example.org/hook', kinds: ['HELD'], producerId: '' } })],
    ['registerWebhook: an empty hubId', REGISTER_WEBHOOK, () => ({ input: { url: 'https://example.org/hook', kinds: ['HELD'], hubId: '' } })],
    ['receiveLot: an empty locationId', RECEIVE_LOT, () => ({ input: { productId: w.carrots, code: 'L1', quantity: '5', grade: 'EXTRA', locationId: '' } })],
    ['registerWebhook: stock events for a hub, which never gets any', REGISTER_WEBHOOK, () => ({ input: { url: 'https://example.org/hook', kinds: ['HELD', 'ADJUSTED'], hubId: w.hub } })],
    ['removeWebhook: an unknown webhook', REMOVE_WEBHOOK, () => ({ input: { webhookId: randomUUID() } })],
    ['createLocation: priority zero', CREATE_LOCATION, () => ({ input: { producerId: w.jean, name: 'Barn', priority: 0 } })],
    ['createLocation: a 100,000-character name', CREATE_LOCATION, () => ({ input: { producerId: w.jean, name: huge, priority: 2 } })],
    ['updateLocation: an unknown location', UPDATE_LOCATION, () => ({ input: { locationId: randomUUID(), priority: 3 } })],
    ['transferStock: to the same location', TRANSFER_STOCK, () => ({ input: { productId: w.carrots, fromLocationId: randomUUID(), toLocationId: randomUUID().replace(/.$/, ''), quantity: '1' } })],
    ['transferStock: a negative quantity', TRANSFER_STOCK, () => ({ input: { productId: w.carrots, fromLocationId: randomUUID(), toLocationId: randomUUID(), quantity: '-1' } })],
    ['receiveLot: a date that is not one', RECEIVE_LOT, () => ({ input: { productId: w.carrots, code: 'L1', quantity: '5', grade: 'EXTRA', bestBefore: '2026-02-30' } })],
    // luxon has a year 0; PostgreSQL's dates do not.
    ['receiveLot: a date in the year 0000', RECEIVE_LOT, () => ({ input: { productId: w.carrots, code: 'L1', quantity: '5', grade: 'EXTRA', bestBefore: '0000-01-01' } })],
    ['receiveLot: best-before before harvest', RECEIVE_LOT, () => ({ input: { productId: w.carrots, code: 'L1', quantity: '5', grade: 'EXTRA', harvestedOn: '2026-11-20', bestBefore: '2026-11-01' } })],
    ['receiveLot: an unknown grade', RECEIVE_LOT, () => ({ input: { productId: w.carrots, code: 'L1', quantity: '5', grade: 'SUPERB' } })],
    ['releaseLot: an unknown lot', RELEASE_LOT, () => ({ input: { lotId: randomUUID() } })],
    ['moveLot: an id that is not one', MOVE_LOT, () => ({ input: { lotId: 'lot-1', toLocationId: randomUUID() } })],
    ['swapLot: an unknown order', SWAP_LOT, () => ({ input: { producerOrderId: randomUUID(), productId: w.carrots, fromLotId: randomUUID(), toLotId: randomUUID() } })],
    ['shipProducerOrder: an empty carrier', SHIP, () => ({ input: { producerOrderId: randomUUID(), carrier: ' ', trackingReference: 'T' } })],
    ['shipProducerOrder: a float quantity', SHIP, () => ({ input: { producerOrderId: randomUUID(), carrier: 'C', trackingReference: 'T', lines: [{ productId: w.carrots, quantity: 1.5 }] } })],
    ['setCustomerPriority: an empty customer', SET_PRIORITY, () => ({ input: { hubId: w.hub, customerRef: '', priority: true } })],
    // PostgreSQL cannot store U+0000: a statement carrying it fails as a protocol violation.
    ['checkout: a NUL in the customer reference', op.CHECKOUT, () => ({ input: checkoutInput({ customerRef: 'ali\u0000' }) })],
    ['createProducer: a NUL in a string literal', 'mutation { createProducer(input: { name: "Ferme\\u0000" }) { producer { id } userErrors { field message code } } }', () => ({})],
    ['registerWebhook: a NUL in the secret', REGISTER_WEBHOOK, () => ({ input: { url: 'https://example.org/hook', kinds: ['HELD'], secret: 's'.repeat(32) + '\u0000' } })],
    ['checkout: a NUL after 200,000 other items', op.CHECKOUT, () => ({ input: checkoutInput({ lines: [...Array.from({ length: 200_000 }, () => 'a'), 'x\u0000'] }) })],
    // A storefront cutting a name at 200 UTF-16 units in the middle of an emoji sends a lone
    // surrogate: JSON for PostgreSQL refuses it, which failed every basket of a checkout batch.
    ['checkout: a lone surrogate in the customer reference', op.CHECKOUT, () => ({ input: checkoutInput({ customerRef: 'Zoë 🍓'.slice(0, 5) }) })],
    ['checkout: a lone low surrogate in the idempotency key', op.CHECKOUT, () => ({ input: checkoutInput({ idempotencyKey: 'key-\udf53' }) })],
    ['createProducer: a lone surrogate in a string literal', 'mutation { createProducer(input: { name: "Ferme \\ud83c" }) { producer { id } userErrors { field message code } } }', () => ({})],
    ['createLocation: a NUL in the name', CREATE_LOCATION, () => ({ input: { producerId: w.jean, name: 'Barn\u0000', priority: 2 } })],
    ['pickList: a day that is not one', 'query ($p: ID!) { pickList(producerId: $p, deliveryDay: "tomorrow") { deliveryDay } }', () => ({ p: w.jean })],
    ['packList: an empty hub id', 'query ($p: ID!) { packList(producerId: $p, deliveryDay: "2026-11-26", hubId: "") { hub { id } } }', () => ({ p: w.jean })],
    ['packList: a day in the year 0000', 'query ($p: ID!) { packList(producerId: $p, deliveryDay: "0000-01-01") { hub { id } } }', () => ({ p: w.jean })],
    ['producerOrders: a negative first', 'query { producerOrders(first: -1) { id } }', () => ({})],
    ['producerOrders: an unknown enum value', 'query { producerOrders(orderState: SHIPPED) { id } }', () => ({})],
    ['packList: a producer that does not exist', 'query ($p: ID!) { packList(producerId: $p, deliveryDay: "2026-11-25") { hub { id } } }', () => ({ p: randomUUID() })],
    ['packList: a hub that does not exist', 'query ($p: ID!, $h: ID!) { packList(producerId: $p, deliveryDay: "2026-11-25", hubId: $h) { hub { id } } }', () => ({ p: w.jean, h: randomUUID() })],
    ['pickList: a producer that does not exist', 'query ($p: ID!) { pickList(producerId: $p, deliveryDay: "2026-11-25") { producer { id } } }', () => ({ p: randomUUID() })],
    // An error quotes what it refuses, but not all of a huge value.
    ['createProduct: a 100,000-digit GTIN', op.CREATE_PRODUCT, () => ({ input: { producerId: w.jean, name: 'Beans', sku: 'B-1', unit: 'kg', gtin: '4'.repeat(100_000) } })],
    ['releaseLot: a 100,000-character id', RELEASE_LOT, () => ({ input: { lotId: huge } })],
    ['checkout: a 100,000-character offer id', op.CHECKOUT, () => ({ input: checkoutInput({ lines: [{ offerId: huge, quantity: '1' }] }) })],
    ['Hub.salesSessions: closing after the year 9999', 'query ($h: ID!) { hub(id: $h) { salesSessions(closesAfter: "+010000-01-01T00:00:00Z") { id } } }', () => ({ h: w.hub })],
  ];

  it.each(cases)('%s', async (_name, document, variables) => {
    const before = await fingerprint();
    const response = await t.api.request<Record<string, { userErrors?: { code: string; message: string }[] }>>(document, variables());
    expect(response.status).toBeLessThan(500);
    if (response.errors?.length) {
      expect(CLIENT_CODES).toContain(response.errors[0]!.extensions?.code);
      expect(response.errors[0]!.message.length).toBeGreaterThan(5);
    } else {
      const payload = Object.values(response.data!)[0]!;
      expect(payload.userErrors!.length).toBeGreaterThan(0);
      for (const error of payload.userErrors!) expect(USER_ERROR_CODES).toContain(error.code);
    }
    expect(JSON.stringify(response)).not.toMatch(/stacktrace|\.ts:\d+|node_modules/);
    expect(JSON.stringify(response).length).toBeLessThan(2_000);
    expect(await fingerprint()).toEqual(before);
  });

  it('keeps text whose characters lie outside the Basic Multilingual Plane, as sent', async () => {
    const customerRef = 'Zoë 🍓';
    const response = await t.api.request<{ checkout: { customerOrder: { customerRef: string } | null; userErrors: unknown[] } }>(
      'mutation ($input: CheckoutInput!) { checkout(input: $input) { customerOrder { customerRef } userErrors { code } } }',
      { input: checkoutInput({ customerRef }) },
    );
    expect(response.errors).toBeUndefined();
    expect(response.data?.checkout).toEqual({ customerOrder: { customerRef }, userErrors: [] });
  });

  it('lists no producer orders for an empty or malformed producerId or salesSessionId, as for an unknown one', async () => {
    const placed = await t.api.data<{ checkout: { userErrors: unknown[] } }>(op.CHECKOUT, { input: checkoutInput({}) });
    expect(placed.checkout.userErrors).toEqual([]);
    const listed = async (variables: Record<string, string>) => (await t.api.data<{ producerOrders: unknown[] }>(
      'query ($p: ID, $s: ID) { producerOrders(producerId: $p, salesSessionId: $s) { id } }', variables,
    )).producerOrders.length;
    expect(await listed({})).toBeGreaterThan(0);
    for (const variables of [{ p: '' }, { s: '' }, { p: 'x' }, { s: 'x' }, { p: randomUUID() }] as Record<string, string>[]) expect(await listed(variables)).toBe(0);
  });

  it('lists at most 200 userErrors, the first ones found, however many problems the input has', async () => {
    const before = await fingerprint();
    type Answer = Record<string, { userErrors: { field: string[]; code: string }[] }>;
    const errorsOf = async (document: string, input: Record<string, unknown>) => {
      const response = await t.api.request<Answer>(document, { input });
      expect(response.errors).toBeUndefined();
      return { errors: Object.values(response.data!)[0]!.userErrors, bytes: JSON.stringify(response).length };
    };
    const webhook = { url: 'https://example.org/hook', producerId: w.jean };
    const unknownKinds = await errorsOf(REGISTER_WEBHOOK, { ...webhook, kinds: Array.from({ length: 50 }, (_, i) => `NOT_A_KIND_${i}`) });
    expect(unknownKinds.errors.map((e) => e.field)).toEqual(Array.from({ length: 50 }, (_, i) => ['kinds', String(i)]));
    // A list longer than any registration needs is refused as a whole, not kind by kind.
    const tooMany = await errorsOf(REGISTER_WEBHOOK, { ...webhook, kinds: Array.from({ length: 150_000 }, () => 'X') });
    expect(tooMany.errors).toEqual([expect.objectContaining({ field: ['kinds'], code: 'INVALID_INPUT' })]);
    // 5,000 offers, each wrong in several ways (a 400 kB request): the answer stays small.
    const offers = Array.from({ length: 5_000 }, () => ({ productId: 'x', price: { amount: -1, currency: 'x' }, cap: 'x', minShelfLifeDays: -1 }));
    const badOffers = await errorsOf(op.CREATE_SALES_SESSION, sessionInput({ offers }));
    expect(badOffers.errors).toHaveLength(200);
    expect(badOffers.errors.slice(0, 2)).toEqual([
      expect.objectContaining({ field: ['offers', '0', 'productId'], code: 'NOT_FOUND' }),
      expect.objectContaining({ field: ['offers', '0', 'price', 'amount'], code: 'INVALID_INPUT' }),
    ]);
    expect(badOffers.bytes).toBeLessThan(40_000);
    expect(await fingerprint()).toEqual(before);
  });
});
