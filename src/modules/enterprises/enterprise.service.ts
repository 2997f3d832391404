import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { DomainError, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { claimIdempotencyKey, hashRequest, idempotencyScope, IdempotentMutation, optionalIdempotencyKey } from '../../shared/idempotency.js';
import { isUuid } from '../../shared/ids.js';
import type { RequestContext } from '../../shared/request-context.js';
import { MAX_CUSTOMER_REF, requiredText } from '../../shared/text.js';
import { Location } from '../stock/location.entity.js';
import { Hub } from './hub.entity.js';
import { HubCustomer } from './hub-customer.entity.js';
import { requireHub as requireHubAccess, requireProducer as requireProducerAccess } from '../../auth/policy.js';
import { instant, sql } from '../../shared/sql.js';
import { Producer } from './producer.entity.js';
import { approve, revoke } from './hub-approvals.js';

export const FIRST_LOCATION_NAME = 'Main';

export interface CreateEnterpriseFields {
  name: string;
  idempotencyKey?: string | null;
}

/** What else a revoked approval takes back, in the revocation's transaction (the sessions module's offers). */
export interface RevocationListener {
  /** Locks what it will change, before the approval is deleted. */
  lock(em: EntityManager, now: Date, hubId: string): Promise<void>;
  /** Once the approval is gone (a revocation that removed one: a repeat changes nothing). */
  revoked(em: EntityManager, now: Date, producerId: string, hubId: string): Promise<void>;
}

export class EnterpriseService {
  constructor(private readonly revocation?: RevocationListener) {}

  async createProducer(ctx: RequestContext, input: CreateEnterpriseFields): Promise<Producer> {
    return this.createEnterprise(ctx, input, IdempotentMutation.CREATE_PRODUCER, Producer, (em, id, name) => {
      const producer = new Producer(name);
      producer.id = id;
      producer.createdAt = ctx.clock.now();
      // Stock always lives somewhere: a producer starts with one location, and can add more.
      const location = new Location(producer, FIRST_LOCATION_NAME, 1);
      location.createdAt = producer.createdAt;
      em.persist([producer, location]);
      return producer;
    });
  }

  async createHub(ctx: RequestContext, input: CreateEnterpriseFields): Promise<Hub> {
    return this.createEnterprise(ctx, input, IdempotentMutation.CREATE_HUB, Hub, (em, id, name) => {
      const hub = new Hub(name);
      hub.id = id;
      hub.createdAt = ctx.clock.now();
      em.persist(hub);
      return hub;
    });
  }

  /**
   * A new producer or hub. Operators create them from scripts and back offices that retry: with
   * an idempotency key, a retry of a creation that committed (its answer lost to a timeout)
   * answers with the first one instead of making a namesake.
   */
  private async createEnterprise<T extends Producer | Hub>(
    ctx: RequestContext,
    input: CreateEnterpriseFields,
    kind: IdempotentMutation.CREATE_PRODUCER | IdempotentMutation.CREATE_HUB,
    entity: new (name: string) => T,
    make: (em: EntityManager, id: string, name: string) => T,
  ): Promise<T> {
    const errors = new InputErrors();
    const name = requiredText(input.name, ['name'], 200, errors);
    const idempotencyKey = optionalIdempotencyKey(input.idempotencyKey, errors);
    errors.throwIfAny();
    return ctx.em.transactional(async (em) => {
      const id = randomUUID();
      if (idempotencyKey) {
        const claim = await claimIdempotencyKey(em, ctx.clock.now(), {
          scope: idempotencyScope.operator, idempotencyKey, kind, resultId: id, requestHash: hashRequest(kind, { name }),
        });
        if (!claim.first) return em.findOneOrFail(entity, claim.resultId);
      }
      const made = make(em, id, name);
      await em.flush();
      return made;
    });
  }

  /** Marks a hub's customer as priority (or not): their orders are the last to lose out in a short fill. */
  async setCustomerPriority(ctx: RequestContext, input: { hubId: string; customerRef: string; priority: boolean }): Promise<HubCustomer> {
    const errors = new InputErrors();
    const customerRef = requiredText(input.customerRef, ['customerRef'], MAX_CUSTOMER_REF, errors);
    errors.throwIfAny();
    requireHubAccess(ctx.actor, input.hubId, 'hubId');
    await this.requireHub(ctx, input.hubId, 'hubId');
    const [row] = await sql<{ updatedAt: string }>(
      ctx.em,
      `INSERT INTO hub_customer (hub_id, customer_ref, priority, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (hub_id, customer_ref) DO UPDATE SET priority = excluded.priority, updated_at = excluded.updated_at
       RETURNING updated_at AS "updatedAt"`,
      [input.hubId, customerRef, input.priority, ctx.clock.now()],
    );
    return Object.assign(new HubCustomer(), { hubId: input.hubId, customerRef, priority: input.priority, updatedAt: instant(row!.updatedAt) });
  }

  /**
   * The producer lets the hub offer its products in the hub's sessions (hub-approval.entity.ts).
   * Approving again changes nothing.
   */
  async approveHub(ctx: RequestContext, input: { producerId: string; hubId: string }): Promise<{ producer: Producer; hub: Hub }> {
    const { producer, hub } = await this.approvalParties(ctx, input);
    await approve(ctx.em, producer.id, hub.id, ctx.clock.now());
    return { producer, hub };
  }

  /**
   * The hub may offer the producer's products no more: not in new sessions, nor in those it made
   * that have not opened (`revoked`, the sessions module's: they leave them). Sessions open now
   * sell on as they are, since customers may have bought from them. Revoking again changes nothing.
   */
  async revokeHub(ctx: RequestContext, input: { producerId: string; hubId: string }): Promise<{ producer: Producer; hub: Hub }> {
    const { producer, hub } = await this.approvalParties(ctx, input);
    await ctx.em.transactional(async (em) => {
      await this.revocation?.lock(em, ctx.clock.now(), hub.id);
      // The delete waits for a session or offer being made on the approval (FOR KEY SHARE), which
      // the listener then sees.
      if (await revoke(em, producer.id, hub.id)) await this.revocation?.revoked(em, ctx.clock.now(), producer.id, hub.id);
    });
    return { producer, hub };
  }

  /** An approval is its producer's (or the operator's) to give. */
  private async approvalParties(ctx: RequestContext, input: { producerId: string; hubId: string }): Promise<{ producer: Producer; hub: Hub }> {
    requireProducerAccess(ctx.actor, input.producerId, 'producerId');
    const producer = await this.requireProducer(ctx, input.producerId, 'producerId');
    const hub = await this.requireHub(ctx, input.hubId, 'hubId');
    return { producer, hub };
  }

  findProducer(ctx: RequestContext, id: string): Promise<Producer | null> {
    return isUuid(id) ? ctx.em.findOne(Producer, id) : Promise.resolve(null);
  }

  findHub(ctx: RequestContext, id: string): Promise<Hub | null> {
    return isUuid(id) ? ctx.em.findOne(Hub, id) : Promise.resolve(null);
  }

  /** Loads the producer an input names, or fails with NOT_FOUND on that input field. */
  async requireProducer(ctx: RequestContext, id: string, field: string): Promise<Producer> {
    const producer = await this.findProducer(ctx, id);
    if (!producer) throw DomainError.of(UserErrorCode.NOT_FOUND, `no producer with id "${id}"`, [field]);
    return producer;
  }

  async requireHub(ctx: RequestContext, id: string, field: string): Promise<Hub> {
    const hub = await this.findHub(ctx, id);
    if (!hub) throw DomainError.of(UserErrorCode.NOT_FOUND, `no hub with id "${id}"`, [field]);
    return hub;
  }
}
