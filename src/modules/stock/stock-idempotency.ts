import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError, type InputErrors, UserErrorCode } from '../../shared/errors.js';
import { sql } from '../../shared/sql.js';
import { requiredText } from '../../shared/text.js';
import type { StockMovementKind } from './stock-movement.entity.js';

/** A stock write's idempotency key, with what identifies its request. */
export interface StockRequestKey {
  producerId: string;
  idempotencyKey: string;
  requestHash: string;
  kind: StockMovementKind;
  productId: string;
}

/**
 * An optional idempotency key as stock writes take it, like checkout's: trimmed (a retry with
 * surrounding spaces is the same key), not empty, at most 200 characters. Undefined when not sent.
 */
export function optionalIdempotencyKey(raw: string | null | undefined, errors: InputErrors): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  return requiredText(raw, ['idempotencyKey'], 200, errors);
}

/**
 * A digest of a stock write's request, canonical as the service reads it (ids in lower case,
 * quantities as exact decimals, text trimmed), so a retry spelt differently is the same request.
 */
export function hashStockRequest(kind: StockMovementKind, fields: Record<string, string | null>): string {
  const canonical = Object.keys(fields).sort().map((name) => [name, fields[name]]);
  return createHash('sha256').update(JSON.stringify({ kind, fields: canonical })).digest('hex');
}

/**
 * Claims the key for this request, inside the transaction that then makes the write, so the key
 * is kept exactly when the write commits. True: this is the key's first request, go on and write.
 * False: the key's first request already made this write; write nothing, answer as it did.
 * A different request under the key is IDEMPOTENCY_CONFLICT.
 *
 * Concurrent requests with one key meet on the key's unique index, across replicas: the first
 * insert goes ahead, the others' inserts wait for its transaction. If it commits they find its
 * row and replay it; if it rolls back (a user error), one of them takes the key and writes.
 * Claimed before the stock levels are locked, always, so key and level locks never deadlock.
 */
export async function claimIdempotencyKey(em: EntityManager, at: Date, key: StockRequestKey): Promise<boolean> {
  const claimed = await sql(
    em,
    `INSERT INTO stock_idempotency_key (producer_id, idempotency_key, request_hash, kind, product_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (producer_id, idempotency_key) DO NOTHING RETURNING 1`,
    [key.producerId, key.idempotencyKey, key.requestHash, key.kind, key.productId, at],
  );
  if (claimed.length > 0) return true;
  // A statement of its own: its snapshot, taken after the insert waited, sees the committed row.
  const [first] = await sql<{ requestHash: string }>(
    em,
    'SELECT request_hash AS "requestHash" FROM stock_idempotency_key WHERE producer_id = ? AND idempotency_key = ?',
    [key.producerId, key.idempotencyKey],
  );
  if (!first) throw new Error('an idempotency key conflicted with a row that is not there');
  if (first.requestHash !== key.requestHash) {
    throw DomainError.of(UserErrorCode.IDEMPOTENCY_CONFLICT, 'this idempotency key was already used for a different stock change', ['idempotencyKey']);
  }
  return false;
}
