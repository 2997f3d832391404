import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from './clock.js';

/**
 * Who is asking, from a verified bearer token (or nobody). The scheduler acts as the system.
 * Services receive it with every call; ownership rules live in src/auth/policy.ts.
 */
export type Actor =
  | { kind: 'anonymous' }
  | { kind: 'system' }
  | { kind: 'admin' }
  | { kind: 'hub'; hubId: string }
  | { kind: 'producer'; producerId: string }
  | { kind: 'customer'; hubId: string; customerRef: string };

export type Role = 'admin' | 'hub' | 'producer' | 'customer';

/** What every service call gets first: the caller, its unit of work and the time. */
export interface RequestContext {
  readonly actor: Actor;
  /** Forked per request (or per scheduler job): never shared between callers. */
  readonly em: EntityManager;
  readonly clock: Clock;
}
