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
   * The instant the request reads the catalogue at (what sells now), taken when first asked: the
   * sessions listed, their statuses, and their offers' availability in one answer all read it (a
   * session listed as selling is not CLOSED beside it), and a list read for each of many parents
   * stays one batch (its page names the instant). Each subscription event, and each mutation after
   * a document's first, takes its own (renew()).
   */
  readonly readAt: Date;
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

export function createContext({ actor, em, services, events, clock }: ContextDeps): GraphQLContext {
  return new Context(actor, em, services, events, clock);
}

/**
 * A class, so that the unit of work, the loaders and the read instant are read through getters on
 * its prototype: Apollo hands resolvers a copy of the context made with Object.assign (which
 * keeps the prototype but turns own getters into the values they had then), and renew() on that
 * copy must still change what its resolvers read. Each is made when first read: a request
 * answered without the database (a shared answer, `{ __typename }`) makes none.
 */
class Context implements GraphQLContext {
  private currentEm: EntityManager | undefined;
  private currentLoaders: Loaders | undefined;
  private currentReadAt: Date | undefined;

  constructor(
    readonly actor: Actor,
    private readonly root: EntityManager,
    readonly services: Services,
    readonly events: EventHub,
    readonly clock: Clock,
  ) {}

  get em(): EntityManager {
    return (this.currentEm ??= this.root.fork());
  }

  get loaders(): Loaders {
    return (this.currentLoaders ??= createLoaders(this.em, this.services, () => this.readAt));
  }

  get readAt(): Date {
    return (this.currentReadAt ??= this.clock.now());
  }

  renew(): void {
    this.currentEm = undefined;
    this.currentLoaders = undefined;
    this.currentReadAt = undefined;
  }
}
