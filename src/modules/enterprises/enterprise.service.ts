import { DomainError, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import type { RequestContext } from '../../shared/request-context.js';
import { requiredText } from '../../shared/text.js';
import { Location } from '../stock/location.entity.js';
import { Hub } from './hub.entity.js';
import { HubCustomer } from './hub-customer.entity.js';
import { requireHub as requireHubAccess } from '../../auth/policy.js';
import { instant, sql } from '../../shared/sql.js';
import { Producer } from './producer.entity.js';

export const FIRST_LOCATION_NAME = 'Main';

export class EnterpriseService {
  async createProducer(ctx: RequestContext, input: { name: string }): Promise<Producer> {
    const errors = new InputErrors();
    const name = requiredText(input.name, ['name'], 200, errors);
    errors.throwIfAny();
    const producer = new Producer(name);
    producer.createdAt = ctx.clock.now();
    // Stock always lives somewhere: a producer starts with one location, and can add more.
    const location = new Location(producer, FIRST_LOCATION_NAME, 1);
    location.createdAt = producer.createdAt;
    await ctx.em.persistAndFlush([producer, location]);
    return producer;
  }

  async createHub(ctx: RequestContext, input: { name: string }): Promise<Hub> {
    const errors = new InputErrors();
    const name = requiredText(input.name, ['name'], 200, errors);
    errors.throwIfAny();
    const hub = new Hub(name);
    hub.createdAt = ctx.clock.now();
    await ctx.em.persistAndFlush(hub);
    return hub;
  }

  /** Marks a hub's customer as priority (or not): their orders are the last to lose out in a short fill. */
  async setCustomerPriority(ctx: RequestContext, input: { hubId: string; customerRef: string; priority: boolean }): Promise<HubCustomer> {
    const errors = new InputErrors();
    const customerRef = requiredText(input.customerRef, ['customerRef'], 200, errors);
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
