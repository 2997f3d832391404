import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { requireProducer } from '../../auth/policy.js';
import { EventKind } from '../../events/event-log.js';
import { DomainError, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { claimIdempotencyKey, createOrReplay, hashRequest, idempotencyScope, IdempotentMutation, optionalIdempotencyKey } from '../../shared/idempotency.js';
import { isUuid } from '../../shared/ids.js';
import { formatQuantity, parseQuantity } from '../../shared/quantity.js';
import type { RequestContext } from '../../shared/request-context.js';
import { sql } from '../../shared/sql.js';
import { characters, requiredText } from '../../shared/text.js';
import type { EnterpriseService } from '../enterprises/enterprise.service.js';
import { stockAtLocations } from '../lots/stock-outside-lots.js';
import { Location } from './location.entity.js';
import type { PlanGuard } from './planned-stock.js';
import { StockMovementKind } from './stock-movement.entity.js';
import type { StockService } from './stock.service.js';

const MAX_PRIORITY = 1000;

export interface LocationFields {
  name?: string | null;
  priority?: number | null;
}

export interface TransferFields {
  productId: string;
  fromLocationId: string;
  toLocationId: string;
  quantity: string;
  reason?: string | null;
  idempotencyKey?: string | null;
}

/** A producer's locations, and stock moved between them. */
export class LocationService {
  constructor(
    private readonly enterprises: EnterpriseService,
    private readonly stock: StockService,
    private readonly guardPlan: PlanGuard,
  ) {}

  async createLocation(ctx: RequestContext, input: { producerId: string; name: string; priority: number }): Promise<Location> {
    const errors = new InputErrors();
    const name = requiredText(input.name, ['name'], 200, errors);
    checkPriority(input.priority, errors);
    errors.throwIfAny();
    requireProducer(ctx.actor, input.producerId, 'producerId');
    const producer = await this.enterprises.requireProducer(ctx, input.producerId, 'producerId');
    const creationHash = hashRequest('createLocation', { producerId: producer.id, name, priority: input.priority });
    return createOrReplay(
      () => ctx.em.transactional(async (em) => {
        const location = new Location(producer, name, input.priority);
        location.createdAt = ctx.clock.now();
        location.creationHash = creationHash;
        await em.persistAndFlush(location);
        await this.stock.createMissingLevels(em, producer.id);
        return location;
      }),
      {
        find: () => ctx.em.fork().findOne(Location, { producer: producer.id, name }),
        // The same request answers with the location as it is now, whatever priority it was given
        // since (one made before digests were kept: only while it has the priority asked for).
        same: (found) => (found.creationHash ? found.creationHash === creationHash : found.priority === input.priority),
        taken: () => nameTaken(name),
      },
    );
  }

  async updateLocation(ctx: RequestContext, input: { locationId: string } & LocationFields): Promise<Location> {
    const errors = new InputErrors();
    const name = input.name === undefined || input.name === null ? undefined : requiredText(input.name, ['name'], 200, errors);
    if (input.priority !== undefined && input.priority !== null) checkPriority(input.priority, errors);
    errors.throwIfAny();
    const location = await this.requireLocation(ctx.em, input.locationId, 'locationId');
    requireProducer(ctx.actor, location.producer.id, 'locationId');
    if (name !== undefined) location.name = name;
    if (input.priority !== undefined && input.priority !== null) location.priority = input.priority;
    return uniqueName(name ?? location.name, async () => {
      await ctx.em.flush();
      return location;
    });
  }

  findLocation(em: EntityManager, id: string): Promise<Location | null> {
    return isUuid(id) ? em.findOne(Location, id) : Promise.resolve(null);
  }

  async requireLocation(em: EntityManager, id: string, field: string): Promise<Location> {
    const location = await this.findLocation(em, id);
    if (!location) throw DomainError.of(UserErrorCode.NOT_FOUND, `no location with id "${id}"`, [field]);
    return location;
  }

  /**
   * Moves stock on hand from one location to another of the same producer, recorded in the
   * ledger as two rows of one TRANSFER. Only what is available at the source can move: held and
   * committed stock stays where the orders expect it. With an idempotency key, a retry of a
   * transfer that committed moves nothing more (see StockService.adjust()).
   */
  async transferStock(ctx: RequestContext, input: TransferFields): Promise<void> {
    const errors = new InputErrors();
    const quantity = parseQuantity(input.quantity, ['quantity'], errors);
    const reason = input.reason?.trim() || undefined;
    if (reason && characters(reason) > 500) errors.invalid('must be at most 500 characters', ['reason']);
    if (input.fromLocationId === input.toLocationId) errors.invalid('must differ from fromLocationId', ['toLocationId']);
    const idempotencyKey = optionalIdempotencyKey(input.idempotencyKey, errors);
    errors.throwIfAny();
    const [row] = isUuid(input.productId)
      ? await sql<{ producerId: string }>(ctx.em, 'SELECT producer_id AS "producerId" FROM product WHERE id = ?', [input.productId])
      : [];
    if (!row) throw DomainError.of(UserErrorCode.NOT_FOUND, `no product with id "${input.productId}"`, ['productId']);
    requireProducer(ctx.actor, row.producerId, 'productId');
    for (const field of ['fromLocationId', 'toLocationId'] as const) {
      const location = await this.findLocation(ctx.em, input[field]);
      if (!location || location.producer.id !== row.producerId) {
        throw DomainError.of(UserErrorCode.NOT_FOUND, `no location with id "${input[field]}" for this producer`, [field]);
      }
    }
    await ctx.em.transactional(async (em) => {
      // Before anything is checked against the stock: a retry answers as its first request did.
      if (idempotencyKey && !(await claimIdempotencyKey(em, ctx.clock.now(), {
        scope: idempotencyScope.producer(row.producerId),
        idempotencyKey,
        kind: IdempotentMutation.TRANSFER_STOCK,
        resultId: input.productId,
        requestHash: hashRequest(IdempotentMutation.TRANSFER_STOCK, {
          productId: input.productId,
          fromLocationId: input.fromLocationId,
          toLocationId: input.toLocationId,
          quantity: quantity!.toFixed(),
          reason: reason ?? null,
        }),
      })).first) return;
      // Stock in a lot moves with its lot (moveLot), so the lot always says where it is. Reading
      // it locks the product's levels, as apply() would.
      const stock = await stockAtLocations(em, [input.productId]);
      const outside = stock.outside(input.productId, input.fromLocationId);
      if (quantity!.greaterThan(outside)) {
        throw DomainError.of(
          UserErrorCode.INSUFFICIENT_STOCK,
          `only ${formatQuantity(outside)} is kept outside lots there: move stock in a lot with moveLot, which takes the lot along`,
          ['quantity'],
        );
      }
      // Available stock counts what is committed, not which of it the orders can ship.
      const short = await this.guardPlan(em, { producerId: row.producerId, productId: input.productId }, ['quantity'], () => this.stock.apply(em, StockMovementKind.TRANSFER, ctx.clock.now(), [
        { productId: input.productId, locationId: input.fromLocationId, onHandDelta: quantity!.negated(), reason },
        { productId: input.productId, locationId: input.toLocationId, onHandDelta: quantity!, reason },
      ], { kind: EventKind.TRANSFERRED, locationId: input.toLocationId }, { levelsLocked: true }));
      if (short.length > 0) {
        throw DomainError.of(UserErrorCode.INSUFFICIENT_STOCK, `only ${formatQuantity(short[0]!.available)} is available to move from there`, ['quantity']);
      }
    });
  }
}

function checkPriority(priority: number, errors: InputErrors): void {
  if (!Number.isInteger(priority) || priority < 1 || priority > MAX_PRIORITY) {
    errors.invalid(`must be a whole number from 1 (first choice) to ${MAX_PRIORITY}`, ['priority']);
  }
}

async function uniqueName<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) throw nameTaken(name);
    throw error;
  }
}

function nameTaken(name: string): DomainError {
  return DomainError.of(UserErrorCode.INVALID_INPUT, `this producer already has a location named "${name}"`, ['name']);
}
