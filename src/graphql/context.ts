import type { EntityManager } from '@mikro-orm/postgresql';
import type { Services } from '../services.js';
import type { Clock } from '../shared/clock.js';
import type { RequestContext } from '../shared/request-context.js';
import { createLoaders, type Loaders } from './loaders.js';

/** The GraphQL context: the caller's RequestContext plus what resolvers need to reach services. */
export interface GraphQLContext extends RequestContext {
  readonly services: Services;
  readonly loaders: Loaders;
}

export function createContext(em: EntityManager, services: Services, clock: Clock): GraphQLContext {
  const forked = em.fork();
  return { actor: { kind: 'anonymous' }, em: forked, clock, services, loaders: createLoaders(forked, services) };
}
