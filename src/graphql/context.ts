import type { EntityManager } from '@mikro-orm/postgresql';
import type { EventHub } from '../events/event-hub.js';
import type { Services } from '../services.js';
import type { Actor, RequestContext } from '../shared/request-context.js';
import type { Clock } from '../shared/clock.js';
import { createLoaders, type Loaders } from './loaders.js';

/** The GraphQL context: the caller's RequestContext plus what resolvers need to reach services. */
export interface GraphQLContext extends RequestContext {
  readonly services: Services;
  readonly events: EventHub;
  readonly loaders: Loaders;
  /**
   * A new unit of work and new batch loaders. A subscription's context lives as long as the
   * subscription; each event calls this so it is resolved from fresh data, not a stale cache.
   */
  renew(): void;
}

export interface ContextDeps {
  actor: Actor;
  em: EntityManager;
  services: Services;
  events: EventHub;
  clock: Clock;
}

export function createContext({ actor, em: root, services, events, clock }: ContextDeps): GraphQLContext {
  let em = root.fork();
  let loaders = createLoaders(em, services);
  return {
    actor,
    clock,
    services,
    events,
    get em() {
      return em;
    },
    get loaders() {
      return loaders;
    },
    renew() {
      em = root.fork();
      loaders = createLoaders(em, services);
    },
  };
}
