import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError, UserErrorCode } from '../../shared/errors.js';
import { instant, sql, uuidArray } from '../../shared/sql.js';
import type { StockMovementKind } from './stock-movement.entity.js';

/** One row of a product's stock ledger, as the API shows it to its producer. */
export interface LedgerRow {
  id: string;
  productId: string;
  locationId: string;
  lotId: string | null;
  kind: StockMovementKind;
  onHandDelta: string;
  heldDelta: string;
  committedDelta: string;
  producerOrderId: string | null;
  reason: string | null;
  at: Date;
}

export interface LedgerPage {
  limit: number;
  /** Only rows older than this one: the next page after the last row seen. */
  before?: string | null;
}

/** A ledger row's id: a positive bigint, as text. */
const LEDGER_ID = /^[1-9]\d{0,17}$/;

/**
 * Products' ledgers, newest first, a page each in one statement (the (product, id) index). A
 * cursor must be one of the product's rows: any other gets its error in place of the page.
 */
export async function productLedgers(em: EntityManager, productIds: readonly string[], page: LedgerPage): Promise<Map<string, LedgerRow[] | DomainError>> {
  const pages = new Map<string, LedgerRow[] | DomainError>(productIds.map((id) => [id, []]));
  let products = productIds;
  const before = page.before ?? null;
  if (before !== null) {
    const [cursor] = LEDGER_ID.test(before) ? await sql<{ productId: string }>(em, 'SELECT product_id AS "productId" FROM stock_movement WHERE id = ?::bigint', [before]) : [];
    for (const id of productIds) {
      if (cursor?.productId !== id) pages.set(id, DomainError.of(UserErrorCode.NOT_FOUND, `no stock movement of this product with id "${before}"`, ['before']));
    }
    if (!cursor || !pages.has(cursor.productId)) return pages;
    products = [cursor.productId];
  }
  if (page.limit <= 0 || products.length === 0) return pages;
  const rows = await sql<LedgerRow>(
    em,
    `SELECT m.id::text, m.product_id AS "productId", m.location_id AS "locationId", m.lot_id AS "lotId", m.kind,
            m.on_hand_delta::text AS "onHandDelta", m.held_delta::text AS "heldDelta", m.committed_delta::text AS "committedDelta",
            m.producer_order_id AS "producerOrderId", m.reason, m.created_at AS at
       FROM unnest(?::uuid[]) AS p(id)
       CROSS JOIN LATERAL (
         SELECT * FROM stock_movement s WHERE s.product_id = p.id AND (?::bigint IS NULL OR s.id < ?::bigint)
          ORDER BY s.id DESC LIMIT ?) m
      ORDER BY m.product_id, m.id DESC`,
    [uuidArray(products), before, before, page.limit],
  );
  for (const row of rows) (pages.get(row.productId) as LedgerRow[]).push({ ...row, at: instant(row.at) });
  return pages;
}
