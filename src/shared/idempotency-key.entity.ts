import { Entity, Enum, Index, PrimaryKeyProp, Property } from '@mikro-orm/core';

/** The mutations that take an idempotency key (checkout keeps its key on the order it places). */
export enum IdempotentMutation {
  // The stock writes' values are those their keys were first stored and hashed with.
  ADJUST_STOCK = 'ADJUST',
  TRANSFER_STOCK = 'TRANSFER',
  CREATE_SALES_SESSION = 'CREATE_SALES_SESSION',
  REGISTER_WEBHOOK = 'REGISTER_WEBHOOK',
  CREATE_PRODUCER = 'CREATE_PRODUCER',
  CREATE_HUB = 'CREATE_HUB',
  ADD_OFFERS = 'ADD_OFFERS',
}

/**
 * An idempotency key a client sent with a write, stored in the write's own transaction: the key
 * exists exactly when the write committed. One table for every keyed mutation, so there is one
 * claim to get right; a row of its own rather than a column on what the write makes, because a
 * stock write makes ledger rows (two for a transfer) and the key belongs to the request.
 */
@Entity()
// Retention deletes by age (pruneIdempotencyKeys()).
@Index({ properties: ['createdAt'] })
export class IdempotencyKey {
  // The primary key is the unique index concurrent retries meet on (INSERT … ON CONFLICT DO
  // NOTHING), across replicas. Scoped to the enterprise the write is for (idempotencyScope()).
  [PrimaryKeyProp]?: ['scope', 'idempotencyKey'];

  @Property({ type: 'string', length: 64, primary: true })
  scope!: string;

  @Property({ type: 'string', length: 200, primary: true })
  idempotencyKey!: string;

  @Enum({ items: () => IdempotentMutation, type: 'string' })
  kind!: IdempotentMutation;

  /** A digest of the canonical request, to tell a retry from a different request with the same key. */
  @Property({ type: 'string', length: 64 })
  requestHash!: string;

  /** What a replay answers with: the product, sales session, webhook, producer or hub the first request wrote. */
  @Property({ type: 'uuid' })
  resultId!: string;

  @Property({ type: 'datetime', defaultRaw: 'now()' })
  createdAt: Date = new Date();
}
