import { createHash } from 'node:crypto';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError, type InputErrors, UserErrorCode } from './errors.js';
import { IdempotentMutation } from './idempotency-key.entity.js';
import type { Duration } from 'luxon';
import type { RequestContext } from './request-context.js';
import { deleteInBatches } from './batched-delete.js';
import { sql } from './sql.js';
import { requiredText } from './text.js';

export { IdempotentMutation };

/** A keyed write's claim on its idempotency key. */
export interface IdempotentRequest {
  /** Whose keys these are: idempotencyScope(). */
  scope: string;
  idempotencyKey: string;
  kind: IdempotentMutation;
  /** hashRequest() of the request as the service reads it. */
  requestHash: string;
  /** What this request writes and a replay answers with (ids are made by the app, before the write). */
  resultId: string;
}

/** A claim's outcome: go on and write, or answer with what the key's first request wrote. */
export type Claim = { first: true } | { first: false; resultId: string };

/**
 * Each enterprise has one set of keys, shared by all its keyed mutations (a producer's stock
 * writes and webhooks, a hub's sessions, added offers and webhooks), as checkout's are the hub's: another
 * enterprise's key of the same text is its own. The operator registering a webhook for no
 * enterprise uses the operator's set.
 */
export const idempotencyScope = {
  producer: (producerId: string) => `producer:${producerId}`,
  hub: (hubId: string) => `hub:${hubId}`,
  operator: 'operator',
} as const;

const WHAT: Record<IdempotentMutation, string> = {
  [IdempotentMutation.ADJUST_STOCK]: 'stock change',
  [IdempotentMutation.TRANSFER_STOCK]: 'stock change',
  [IdempotentMutation.CREATE_SALES_SESSION]: 'sales session',
  [IdempotentMutation.REGISTER_WEBHOOK]: 'webhook',
  [IdempotentMutation.CREATE_PRODUCER]: 'producer',
  [IdempotentMutation.CREATE_HUB]: 'hub',
  [IdempotentMutation.ADD_OFFERS]: 'addition of offers',
};

/**
 * An optional idempotency key as the keyed mutations take it, like checkout's: trimmed (a retry
 * with surrounding spaces is the same key), not empty, at most 200 characters. Undefined when not sent.
 */
export function optionalIdempotencyKey(raw: string | null | undefined, errors: InputErrors): string | undefined {
  if (raw === null || raw === undefined) return undefined;
  return requiredText(raw, ['idempotencyKey'], 200, errors);
}

/**
 * A digest of a request, canonical as the service reads it (ids in lower case, quantities as exact
 * decimals, text trimmed, times as instants, lists in a set order), so a retry spelt differently
 * is the same request. The fields are sorted by name; their values must already be canonical.
 */
export function hashRequest(kind: IdempotentMutation | 'receiveLot' | 'createLocation' | 'createProduct', fields: Record<string, unknown>): string {
  const canonical = Object.keys(fields).sort().map((name) => [name, fields[name]]);
  return createHash('sha256').update(JSON.stringify({ kind, fields: canonical })).digest('hex');
}

/**
 * Claims the key for this request, inside the transaction that then makes the write, before it
 * locks anything else, so the key is kept exactly when the write commits and key and write locks
 * never deadlock. `first`: this is the key's first request, go on and write. Otherwise the key's
 * first request already wrote `resultId`: write nothing, answer with it. A different request
 * under the key is IDEMPOTENCY_CONFLICT.
 *
 * Concurrent requests with one key meet on the key's unique index, across replicas: the first
 * insert goes ahead, the others' inserts wait for its transaction. If it commits they find its
 * row and replay it; if it rolls back (a user error), one of them takes the key and writes.
 */
export async function claimIdempotencyKey(em: EntityManager, at: Date, request: IdempotentRequest): Promise<Claim> {
  for (;;) {
    const claim = await tryClaim(em, at, request);
    // The key was forgotten (retention) between the insert and the read: claim it again.
    if (claim !== 'gone') return claim;
  }
}

async function tryClaim(em: EntityManager, at: Date, request: IdempotentRequest): Promise<Claim | 'gone'> {
  const claimed = await sql(
    em,
    `INSERT INTO idempotency_key (scope, idempotency_key, kind, request_hash, result_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (scope, idempotency_key) DO NOTHING RETURNING 1`,
    [request.scope, request.idempotencyKey, request.kind, request.requestHash, request.resultId, at],
  );
  if (claimed.length > 0) return { first: true };
  // A statement of its own: its snapshot, taken after the insert waited, sees the committed row.
  const [first] = await sql<{ requestHash: string; resultId: string }>(
    em,
    'SELECT request_hash AS "requestHash", result_id AS "resultId" FROM idempotency_key WHERE scope = ? AND idempotency_key = ?',
    [request.scope, request.idempotencyKey],
  );
  if (!first) return 'gone';
  // The hash covers the mutation too: one key cannot serve two kinds of write.
  if (first.requestHash !== request.requestHash) {
    throw DomainError.of(UserErrorCode.IDEMPOTENCY_CONFLICT, `this idempotency key was already used for a different ${WHAT[request.kind]}`, ['idempotencyKey']);
  }
  return { first: false, resultId: first.resultId };
}

/**
 * Forgets keys older than the retention (IDEMPOTENCY_KEY_RETENTION): clients retry within minutes
 * or hours, and the table would otherwise grow with every keyed write for ever. Checkout's keys
 * live on the orders they placed, and go only with them.
 */
export function pruneIdempotencyKeys(ctx: RequestContext, retention: Duration): Promise<number> {
  const cutoff = new Date(ctx.clock.now().getTime() - retention.toMillis());
  return deleteInBatches(ctx.em, 'idempotency_key', 'SELECT ctid FROM idempotency_key WHERE created_at < ?', [cutoff]);
}

/**
 * A creation that a unique name identifies (a product's SKU, a location's name, a lot's code),
 * so it needs no key: when `create` finds the name taken, the same request sent again (a retry
 * whose answer was lost) answers with what the first made, and any other is refused with `taken`.
 */
export async function createOrReplay<T>(
  create: () => Promise<T>,
  existing: { find: () => Promise<T | null>; same: (found: T) => boolean; taken: (found: T | null) => DomainError },
): Promise<T> {
  try {
    return await create();
  } catch (error) {
    if (!(error instanceof UniqueConstraintViolationException)) throw error;
    const found = await existing.find();
    if (found && existing.same(found)) return found;
    throw existing.taken(found);
  }
}
