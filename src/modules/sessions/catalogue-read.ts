import type { EntityManager } from '@mikro-orm/postgresql';
import { instant, sql, uuidArray } from '../../shared/sql.js';
import type { LotGrade } from '../lots/lot.entity.js';
import type { StockFigures } from '../stock/stock.service.js';
import { sessionClosedSql } from './session-status.js';

/*
 * The storefront's catalogue page (a session's offers, each with its product, producer and live
 * availability) is the busiest read there is. It is read as plain rows in one statement rather
 * than as ORM entities: hydrating and tracking a thousand entities a request cost more than
 * everything else in it (see bench/RESULTS.md). The records below carry what the GraphQL fields
 * read; the entities have the same shape, so a resolver takes either.
 */

export interface ProducerRecord {
  id: string;
  name: string;
}

export interface ProductRecord {
  id: string;
  name: string;
  sku: string;
  unit: string;
  description?: string | null;
  gtin?: string | null;
  sellableStep: string;
  netWeightKg?: string | null;
  lengthCm?: string | null;
  widthCm?: string | null;
  heightCm?: string | null;
  wholesalePriceAmount?: number | null;
  wholesalePriceCurrency?: string | null;
  producer: { id: string };
  /** Read with it, so the field needs no loader and no promise. */
  read?: { producer: ProducerRecord };
}

export interface OfferRecord {
  id: string;
  salesSession: { id: string };
  product: { id: string };
  priceAmount: number;
  priceCurrency: string;
  minGrade?: LotGrade | null;
  minShelfLifeDays?: number | null;
  cap?: string | null;
  /** What live orders hold of it when capped (Offer.taken). */
  taken: string;
  /** While it is off sale (Offer.withdrawnAt). */
  withdrawnAt?: Date | null;
  /** Read with it: a page of offers then resolves without a loader or a promise per field. */
  read?: { product: ProductRecord; stock: StockFigures; sessionClosed: boolean };
}

/** The product's own columns, as `product` holds them, read with each offer. */
type ProductColumns = Omit<ProductRecord, 'id' | 'name' | 'producer' | 'read'>;

interface CatalogueRow extends ProductColumns {
  id: string;
  salesSessionId: string;
  productId: string;
  priceAmount: number;
  priceCurrency: string;
  minGrade: LotGrade | null;
  minShelfLifeDays: number | null;
  cap: string | null;
  taken: string;
  withdrawnAt: Date | string | null;
  productName: string;
  producerId: string;
  producerName: string;
  onHand: string;
  held: string;
  committed: string;
  available: string;
  sessionClosed: boolean;
}

/**
 * The offers of these sessions, in the order the trader listed them, with everything a storefront
 * shows; `read.stock` is each product's stock summed over its locations, all read in one snapshot.
 */
export async function readSessionCatalogues(em: EntityManager, sessionIds: readonly string[], now: Date): Promise<OfferRecord[]> {
  const rows = await sql<CatalogueRow>(
    em,
    // Named first: pg_stat_activity keeps only a statement's first kilobyte, and an operator (or
    // a test) looking for this read there finds it by its name.
    `/* catalogue page: offers */ SELECT f.id, f.sales_session_id AS "salesSessionId", f.product_id AS "productId",
            f.price_amount AS "priceAmount", f.price_currency AS "priceCurrency",
            f.min_grade AS "minGrade", f.min_shelf_life_days AS "minShelfLifeDays", f.cap, f.taken, f.withdrawn_at AS "withdrawnAt",
            p.name AS "productName", p.sku, p.unit, p.description, p.gtin, p.sellable_step AS "sellableStep",
            p.net_weight_kg AS "netWeightKg", p.length_cm AS "lengthCm", p.width_cm AS "widthCm", p.height_cm AS "heightCm",
            p.wholesale_price_amount AS "wholesalePriceAmount", p.wholesale_price_currency AS "wholesalePriceCurrency",
            p.producer_id AS "producerId", pr.name AS "producerName",
            coalesce(s.on_hand, 0) AS "onHand", coalesce(s.held, 0) AS held, coalesce(s.committed, 0) AS committed,
            coalesce(s.available, 0) AS available,
            -- Whether the session had closed at the reader's instant (sessionStatus()): a flag, not
            -- its times, which a page of hundreds of offers would read and parse as many times.
            ${sessionClosedSql('ss')} AS "sessionClosed"
       FROM offer f
       JOIN sales_session ss ON ss.id = f.sales_session_id
       JOIN product p ON p.id = f.product_id
       JOIN producer pr ON pr.id = p.producer_id
       LEFT JOIN LATERAL (SELECT sum(on_hand) AS on_hand, sum(held) AS held, sum(committed) AS committed,
                                 sum(on_hand - held - committed) AS available
                            FROM stock_level WHERE product_id = f.product_id) s ON true
      WHERE f.sales_session_id = ANY(?::uuid[])
      ORDER BY f.sales_session_id, f.position, f.created_at, f.id`,
    [now, uuidArray(sessionIds)],
  );
  const producers = new Map<string, ProducerRecord>();
  return rows.map((row): OfferRecord => {
    let producer = producers.get(row.producerId);
    if (!producer) producers.set(row.producerId, (producer = { id: row.producerId, name: row.producerName }));
    const product: ProductRecord = {
      id: row.productId,
      name: row.productName,
      sku: row.sku,
      unit: row.unit,
      description: row.description,
      gtin: row.gtin,
      sellableStep: row.sellableStep,
      netWeightKg: row.netWeightKg,
      lengthCm: row.lengthCm,
      widthCm: row.widthCm,
      heightCm: row.heightCm,
      wholesalePriceAmount: row.wholesalePriceAmount,
      wholesalePriceCurrency: row.wholesalePriceCurrency,
      producer,
      read: { producer },
    };
    const figures: StockFigures = { onHand: row.onHand, held: row.held, committed: row.committed, available: row.available };
    return {
      id: row.id,
      salesSession: { id: row.salesSessionId },
      product: { id: row.productId },
      priceAmount: row.priceAmount,
      priceCurrency: row.priceCurrency,
      minGrade: row.minGrade,
      minShelfLifeDays: row.minShelfLifeDays,
      cap: row.cap,
      taken: row.taken,
      withdrawnAt: instant(row.withdrawnAt),
      read: { product, stock: figures, sessionClosed: row.sessionClosed },
    };
  });
}
