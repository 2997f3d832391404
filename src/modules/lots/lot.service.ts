import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { requireProducer } from '../../auth/policy.js';
import { appendEvents, EventKind } from '../../events/event-log.js';
import { DomainError, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { createOrReplay, hashRequest } from '../../shared/idempotency.js';
import { isUuid } from '../../shared/ids.js';
import { type KeysetList, keysetPages, type Page } from '../../shared/keyset-pages.js';
import { formatQuantity, parseQuantity } from '../../shared/quantity.js';
import type { RequestContext } from '../../shared/request-context.js';
import { requiredText } from '../../shared/text.js';
import { Product } from '../catalogue/product.entity.js';
import { Location } from '../stock/location.entity.js';
import type { LocationService } from '../stock/location.service.js';
import { StockMovementKind } from '../stock/stock-movement.entity.js';
import type { StockService } from '../stock/stock.service.js';
import { isIsoDate } from './lot-criteria.js';
import { Lot, type LotGrade, type LotKind, LotStatus } from './lot.entity.js';

export interface ReceiveLotFields {
  productId: string;
  locationId?: string | null;
  code: string;
  kind: LotKind;
  quantity: string;
  grade: LotGrade;
  harvestedOn?: string | null;
  bestBefore?: string | null;
  /** Skip quarantine: the lot's checks are already done. */
  released?: boolean | null;
}

/**
 * Lots: batches and unique items of stock. A lot arrives in QUARANTINE, outside the stock on
 * hand; releasing it adds its quantity to the stock on hand at its location (a RECEIVE in the
 * ledger, with the lot), which is what makes it available to sell and to pick.
 */
export class LotService {
  constructor(
    private readonly stock: StockService,
    private readonly locations: LocationService,
  ) {}

  async receiveLot(ctx: RequestContext, input: ReceiveLotFields): Promise<Lot> {
    const errors = new InputErrors();
    const code = requiredText(input.code, ['code'], 100, errors);
    const quantity = parseQuantity(input.quantity, ['quantity'], errors);
    for (const field of ['harvestedOn', 'bestBefore'] as const) {
      const value = input[field];
      if (value !== null && value !== undefined && !isIsoDate(value)) errors.invalid(`"${value}" is not a date (YYYY-MM-DD)`, [field]);
    }
    if (input.harvestedOn && input.bestBefore && isIsoDate(input.harvestedOn) && isIsoDate(input.bestBefore) && input.bestBefore < input.harvestedOn) {
      errors.invalid('must not be before harvestedOn', ['bestBefore']);
    }
    errors.throwIfAny();
    const product = isUuid(input.productId) ? await ctx.em.findOne(Product, input.productId) : null;
    if (!product) throw DomainError.of(UserErrorCode.NOT_FOUND, `no product with id "${input.productId}"`, ['productId']);
    requireProducer(ctx.actor, product.producer.id, 'productId');
    const location = input.locationId
      ? await this.locations.findLocation(ctx.em, input.locationId)
      : await ctx.em.findOne(Location, { producer: product.producer.id }, { orderBy: { priority: 'asc', id: 'asc' } });
    if (!location || location.producer.id !== product.producer.id) {
      throw DomainError.of(UserErrorCode.NOT_FOUND, `no location with id "${input.locationId}" for this producer`, ['locationId']);
    }

    // The request as given (its location too, when it names one), canonical: a retry spelt
    // differently is the same receipt.
    const receiptHash = hashRequest('receiveLot', {
      productId: product.id, locationId: input.locationId ?? null, code, kind: input.kind, grade: input.grade,
      quantity: quantity!.toFixed(), harvestedOn: input.harvestedOn ?? null, bestBefore: input.bestBefore ?? null,
      released: input.released ?? false,
    });
    return createOrReplay(
      () => ctx.em.transactional(async (em) => {
        const lot = new Lot(product, location, { code, kind: input.kind, quantity: quantity!.toFixed(), grade: input.grade });
        lot.harvestedOn = input.harvestedOn ?? undefined;
        lot.bestBefore = input.bestBefore ?? undefined;
        lot.createdAt = ctx.clock.now();
        lot.receiptHash = receiptHash;
        await em.persistAndFlush(lot);
        if (input.released) await this.releaseLocked(em, ctx.clock.now(), lot);
        return lot;
      }),
      {
        find: () => ctx.em.fork().findOne(Lot, { product: product.id, code }),
        // The same receipt answers with the lot as it is now, whatever was shipped, released or
        // moved since. A lot received before receipts were kept can only be compared with how it
        // was received: the same only while nothing was taken, released or moved.
        same: (found) => found.receiptHash
          ? found.receiptHash === receiptHash
          : found.location.id === location.id && found.kind === input.kind && found.grade === input.grade
            && new Decimal(found.quantity).equals(quantity!)
            && (found.harvestedOn ?? null) === (input.harvestedOn ?? null) && (found.bestBefore ?? null) === (input.bestBefore ?? null)
            && found.status === (input.released ? LotStatus.RELEASED : LotStatus.QUARANTINE),
        taken: () => DomainError.of(UserErrorCode.INVALID_INPUT, `this product already has a lot "${code}"`, ['code']),
      },
    );
  }

  /** Its checks passed: the lot joins the stock on hand. Releasing a released lot changes nothing. */
  async releaseLot(ctx: RequestContext, lotId: string): Promise<Lot> {
    await this.requireOwnLot(ctx, lotId);
    return ctx.em.transactional(async (em) => {
      const lot = await em.findOneOrFail(Lot, lotId, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      if (lot.status !== LotStatus.RELEASED) await this.releaseLocked(em, ctx.clock.now(), lot);
      return lot;
    });
  }

  /**
   * Moves a whole lot to another location. A released lot takes its stock along (a TRANSFER in
   * the ledger), which needs that much available where it is now.
   */
  async moveLot(ctx: RequestContext, input: { lotId: string; toLocationId: string }): Promise<Lot> {
    const owned = await this.requireOwnLot(ctx, input.lotId);
    const to = await this.locations.findLocation(ctx.em, input.toLocationId);
    if (!to || to.producer.id !== owned.product.producer.id) {
      throw DomainError.of(UserErrorCode.NOT_FOUND, `no location with id "${input.toLocationId}" for this producer`, ['toLocationId']);
    }
    return ctx.em.transactional(async (em) => {
      const lot = await em.findOneOrFail(Lot, input.lotId, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      const from = lot.location.id;
      if (from === to.id) return lot;
      const now = ctx.clock.now();
      const quantity = new Decimal(lot.quantity);
      if (lot.status === LotStatus.RELEASED && quantity.greaterThan(0)) {
        const short = await this.stock.apply(em, StockMovementKind.TRANSFER, now, [
          { productId: lot.product.id, locationId: from, lotId: lot.id, onHandDelta: quantity.negated() },
          { productId: lot.product.id, locationId: to.id, lotId: lot.id, onHandDelta: quantity },
        ], { kind: EventKind.TRANSFERRED, locationId: to.id, lotId: lot.id });
        if (short.length > 0) {
          throw DomainError.of(
            UserErrorCode.INSUFFICIENT_STOCK,
            `only ${formatQuantity(short[0]!.available)} is available where the lot is: the rest is held or committed there`,
            ['lotId'],
          );
        }
      } else {
        await appendEvents(em, now, [{ kind: EventKind.TRANSFERRED, productId: lot.product.id, quantity: lot.quantity, locationId: to.id, lotId: lot.id }]);
      }
      lot.location = em.getReference(Location, to.id);
      await em.flush();
      return lot;
    });
  }

  findLot(em: EntityManager, id: string): Promise<Lot | null> {
    return isUuid(id) ? em.findOne(Lot, id) : Promise.resolve(null);
  }

  private async releaseLocked(em: EntityManager, now: Date, lot: Lot): Promise<void> {
    lot.status = LotStatus.RELEASED;
    lot.releasedAt = now;
    await em.flush();
    const missing = await this.stock.apply(em, StockMovementKind.RECEIVE, now, [
      { productId: lot.product.id, locationId: lot.location.id, lotId: lot.id, onHandDelta: new Decimal(lot.quantity), reason: `lot ${lot.code} released` },
    ], { kind: EventKind.LOT_RELEASED, locationId: lot.location.id, lotId: lot.id });
    // Adding stock is short only where the product has no level: never released without its stock.
    if (missing.length > 0) throw new Error(`product ${lot.product.id} has no stock level at location ${lot.location.id}`);
  }

  private async requireOwnLot(ctx: RequestContext, lotId: string): Promise<Lot> {
    const lot = await this.findLot(ctx.em, lotId);
    if (!lot) throw DomainError.of(UserErrorCode.NOT_FOUND, `no lot with id "${lotId}"`, ['lotId']);
    const product = await ctx.em.findOneOrFail(Product, lot.product.id);
    requireProducer(ctx.actor, product.producer.id, 'lotId');
    return lot;
  }
}

export interface ProductLotsPage extends Page {
  status?: LotStatus | null;
}

const PRODUCT_LOTS: KeysetList<Lot> = {
  entity: Lot,
  table: 'lot',
  parent: 'product_id',
  // Earliest best-before first, those without one last (a row comparison needs no nulls).
  key: (a) => `coalesce(${a}.best_before, 'infinity'::date), ${a}.code, ${a}.id`,
  notFound: 'lot of this product',
};

/** Products' lots, earliest best-before first (then by code), a page of each, in one statement (keysetPages()). */
export function productLots(em: EntityManager, productIds: readonly string[], { status, ...page }: ProductLotsPage): Promise<Map<string, Lot[] | DomainError>> {
  return keysetPages(em, PRODUCT_LOTS, productIds, page, status ? { sql: 't.status = ?', params: [status] } : undefined);
}
