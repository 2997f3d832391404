import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { sql, uuidArray } from '../../shared/sql.js';
import { StockMovementKind } from '../stock/stock-movement.entity.js';
import type { Move } from '../stock/stock.service.js';
import type { PlannedLine } from './pick-planner.js';

/**
 * Commitments are where an order's stock was set aside when its session closed; the goods may
 * leave from elsewhere (the lot that meets the order's criteria is in the cold store, its
 * commitment at the farm). The shipment then frees stock where its commitment was and takes it
 * where other orders' commitments are, and each would be refused for the other's location. Such
 * commitments move to where this shipment frees stock (first choice first), so every location
 * still has what is committed there: the product's totals do not change, only where its
 * commitments are. Only what backs an order's lots moves: what its pick list takes from stock kept
 * outside lots at that location (`untracked`) stays, or that order could no longer ship it.
 * Recorded as COMMIT rows of those orders, with the reason; no event, as no order's state or the
 * product's availability changes. Reads the levels: they must be locked.
 */
export async function commitmentsFollowingTheGoods(em: EntityManager, producerOrderId: string, moves: Move[], plan: readonly PlannedLine[]): Promise<Move[]> {
  const levels = await sql<{ productId: string; locationId: string; available: string }>(
    em,
    `SELECT s.product_id AS "productId", s.location_id AS "locationId", s.on_hand - s.held - s.committed AS available
       FROM stock_level s JOIN location l ON l.id = s.location_id
      WHERE s.product_id = ANY(?::uuid[]) ORDER BY s.product_id, l.priority, l.id`,
    [uuidArray(new Set(moves.map((m) => m.productId)))],
  );
  const key = (productId: string, locationId: string) => `${productId} ${locationId}`;
  const after = new Map(levels.map((l) => [key(l.productId, l.locationId), new Decimal(l.available)]));
  for (const m of moves) {
    const k = key(m.productId, m.locationId);
    const change = (m.onHandDelta ?? new Decimal(0)).minus(m.heldDelta ?? 0).minus(m.committedDelta ?? 0);
    after.set(k, (after.get(k) ?? new Decimal(0)).plus(change));
  }
  const deficits = levels.filter((l) => after.get(key(l.productId, l.locationId))!.isNegative());
  if (deficits.length === 0) return [];

  const commitments = await sql<{ producerOrderId: string; productId: string; locationId: string; quantity: string }>(
    em,
    `SELECT producer_order_id AS "producerOrderId", product_id AS "productId", location_id AS "locationId", sum(committed_delta) AS quantity
       FROM stock_movement
      WHERE product_id = ANY(?::uuid[]) AND location_id = ANY(?::uuid[]) AND producer_order_id IS NOT NULL AND producer_order_id <> ?
      GROUP BY producer_order_id, product_id, location_id HAVING sum(committed_delta) > 0
      ORDER BY producer_order_id`,
    [uuidArray(new Set(deficits.map((d) => d.productId))), uuidArray(new Set(deficits.map((d) => d.locationId))), producerOrderId],
  );
  const follow: Move[] = [];
  for (const deficit of deficits) {
    const from = key(deficit.productId, deficit.locationId);
    for (const commitment of commitments.filter((c) => c.productId === deficit.productId && c.locationId === deficit.locationId)) {
      const untrackedHere = plan
        .filter((l) => l.producerOrderId === commitment.producerOrderId && l.productId === commitment.productId)
        .flatMap((l) => l.untracked.filter((u) => u.locationId === commitment.locationId).map((u) => u.quantity));
      let left = new Decimal(commitment.quantity).minus(Decimal.sum(0, ...untrackedHere));
      for (const to of levels.filter((l) => l.productId === deficit.productId && l.locationId !== deficit.locationId)) {
        const free = after.get(key(to.productId, to.locationId))!;
        const q = Decimal.min(left, after.get(from)!.negated(), free);
        if (q.lessThanOrEqualTo(0)) continue;
        const base = { productId: deficit.productId, producerOrderId: commitment.producerOrderId, kind: StockMovementKind.COMMIT };
        const reason = `commitment moved to where stock is free: order ${producerOrderId} shipped from here`;
        follow.push({ ...base, locationId: deficit.locationId, committedDelta: q.negated(), reason });
        follow.push({ ...base, locationId: to.locationId, committedDelta: q, reason });
        after.set(from, after.get(from)!.plus(q));
        after.set(key(to.productId, to.locationId), free.minus(q));
        left = left.minus(q);
      }
      if (!after.get(from)!.isNegative()) break;
    }
  }
  return follow;
}
