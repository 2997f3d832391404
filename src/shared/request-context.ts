import type { EntityManager } from '@mikro-orm/postgresql';
import type { Clock } from './clock.js';

/**
 * Who is asking. Every request is anonymous until access control lands; the scheduler acts as
 * the system. Services receive it with every call so that rules about ownership have one place to go.
 */
export type Actor = { kind: 'anonymous' } | { kind: 'system' };

/** What every service call gets first: the caller, its unit of work and the time. */
export interface RequestContext {
  readonly actor: Actor;
  /** Forked per request (or per scheduler job): never shared between callers. */
  readonly em: EntityManager;
  readonly clock: Clock;
}
