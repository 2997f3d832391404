import type { EntityManager } from '@mikro-orm/postgresql';
import type { DomainError } from '../../shared/errors.js';
import { type KeysetList, keysetPages } from '../../shared/keyset-pages.js';
import { instant } from '../../shared/sql.js';
import { StockMovement, type StockMovementKind } from './stock-movement.entity.js';

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

const PRODUCT_LEDGER: KeysetList<LedgerRow> = {
  entity: StockMovement,
  table: 'stock_movement',
  parent: 'product_id',
  key: (a) => `${a}.id`,
  notFound: 'stock movement of this product',
  descending: true,
  bigintIds: true,
  cursorField: 'before',
  row: {
    select: `t.product_id, t.id::text, t.location_id AS "locationId", t.lot_id AS "lotId", t.kind,
             t.on_hand_delta::text AS "onHandDelta", t.held_delta::text AS "heldDelta", t.committed_delta::text AS "committedDelta",
             t.producer_order_id AS "producerOrderId", t.reason, t.created_at AS at`,
    map: (row) => ({ ...(row as unknown as LedgerRow), productId: row.product_id as string, at: instant(row.at as string) }),
  },
};

/** Products' ledgers, newest first, a page each in one statement over the (product, id) index (keysetPages()). */
export function productLedgers(em: EntityManager, productIds: readonly string[], page: LedgerPage): Promise<Map<string, LedgerRow[] | DomainError>> {
  return keysetPages(em, PRODUCT_LEDGER, productIds, { limit: page.limit, after: page.before });
}
