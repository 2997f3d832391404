import type { EntityManager } from '@mikro-orm/postgresql';
import { sql, uuidArray } from '../../shared/sql.js';

// The one place hub_approval (hub-approval.entity.ts) is read and written: which hubs a producer
// lets offer its products.

export async function approve(em: EntityManager, producerId: string, hubId: string, at: Date): Promise<void> {
  await sql(em, 'INSERT INTO hub_approval (producer_id, hub_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING', [producerId, hubId, at]);
}

/** Whether there was an approval to revoke. */
export async function revoke(em: EntityManager, producerId: string, hubId: string): Promise<boolean> {
  const removed = await sql(em, 'DELETE FROM hub_approval WHERE producer_id = ? AND hub_id = ? RETURNING 1', [producerId, hubId]);
  return removed.length > 0;
}

/**
 * Which of these producers approved the hub. Under `lock` (FOR KEY SHARE), a revocation
 * committing meanwhile waits for the caller's transaction, so what it makes stands on the
 * approvals as read.
 */
export async function approvedProducerIds(em: EntityManager, hubId: string, producerIds: readonly string[], lock: boolean): Promise<Set<string>> {
  const rows = await sql<{ producerId: string }>(
    em,
    `SELECT producer_id AS "producerId" FROM hub_approval WHERE hub_id = ? AND producer_id = ANY(?::uuid[])${lock ? ' FOR KEY SHARE' : ''}`,
    [hubId, uuidArray(producerIds)],
  );
  return new Set(rows.map((r) => r.producerId));
}

/** The hubs each producer approved, or the producers each hub is approved by, first approved first. */
export async function approvalsOf(em: EntityManager, side: 'producer' | 'hub', ids: readonly string[]): Promise<Map<string, string[]>> {
  const [by, other] = side === 'producer' ? ['producer_id', 'hub_id'] : ['hub_id', 'producer_id'];
  const rows = await sql<{ owner: string; other: string }>(
    em,
    `SELECT ${by} AS owner, ${other} AS other FROM hub_approval WHERE ${by} = ANY(?::uuid[]) ORDER BY created_at, ${other}`,
    [uuidArray(ids)],
  );
  const byOwner = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const row of rows) byOwner.get(row.owner)?.push(row.other);
  return byOwner;
}
