import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { BasketRecord } from '../../src/modules/orders/checkout-batch.js';

/**
 * Builds baskets as CheckoutService hands them to place_customer_order(s): `quantity` units of a
 * product on offer in an open session, held at its one location. Its producer must already have
 * an order in the session (after one checkout through the API).
 */
export async function basketsFor(db: pg.Pool, sessionId: string, offerId: string) {
  const { rows: [ids] } = await db.query<{ hubId: string; productId: string; producerId: string; locationId: string }>(
    `SELECT s.hub_id AS "hubId", f.product_id AS "productId", p.producer_id AS "producerId", l.location_id AS "locationId"
       FROM offer f JOIN sales_session s ON s.id = f.sales_session_id JOIN product p ON p.id = f.product_id
       JOIN producer_order po ON po.sales_session_id = s.id AND po.producer_id = p.producer_id
       JOIN stock_level l ON l.product_id = p.id
      WHERE f.id = $1 AND s.id = $2`,
    [offerId, sessionId],
  );
  if (!ids) throw new Error('no producer order for this offer yet: check out once through the API first');
  return (idempotencyKey: string, quantity: number): BasketRecord => {
    const id = randomUUID();
    return {
      id,
      salesSessionId: sessionId,
      hubId: ids.hubId,
      customerRef: `customer ${idempotencyKey}`,
      idempotencyKey,
      requestHash: `hash of ${idempotencyKey}`,
      at: '2026-11-23T08:00:00.000Z',
      holdExpiresAt: '2026-11-23T08:15:00.000Z',
      lines: [{ offer_id: offerId, product_id: ids.productId, producer_id: ids.producerId, quantity: String(quantity), price_amount: 250, currency: 'EUR', wholesale_amount: null, wholesale_currency: null }],
      holds: [{ product_id: ids.productId, location_id: ids.locationId, held_delta: String(quantity) }],
    };
  };
}
