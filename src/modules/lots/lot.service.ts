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
import { sql, uuidArray } from '../../shared/sql.js';
import { requiredText } from '../../shared/text.js';
import { Product } from '../catalogue/product.entity.js';
import { Location } from '../stock/location.entity.js';
import { lockLevels } from '../stock/level-locks.js';
import type { LocationService } from '../stock/location.service.js';
import type { PlanGuard, PlannedProductLine } from '../stock/planned-stock.js';
import { StockMovementKind } from '../stock/stock-movement.entity.js';
import type { LevelShortage, Move, StockService } from '../stock/stock.service.js';
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
    private readonly guardPlan: PlanGuard,
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
    // An empty id names nothing: it is not one left out (the first-choice location).
    if (input.locationId === '') errors.add(UserErrorCode.NOT_FOUND, 'no location with id ""', ['locationId']);
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
   * the ledger), and the commitments there of the orders whose pick lists take the lot go with it
   * (COMMIT rows, as when a shipment moves commitments to where the goods are); the rest of its
   * stock must be available where it is now. Held stock never moves. The move is refused, as a
   * transfer is, if it leaves an order waiting to be picked shorter than it was (PlanGuard): the
   * lot's stock may be the room another lot there needs where open sessions hold the rest.
   */
  async moveLot(ctx: RequestContext, input: { lotId: string; toLocationId: string }): Promise<Lot> {
    const owned = await this.requireOwnLot(ctx, input.lotId);
    const producerId = owned.product.producer.id;
    const to = await this.locations.findLocation(ctx.em, input.toLocationId);
    if (!to || to.producer.id !== producerId) {
      throw DomainError.of(UserErrorCode.NOT_FOUND, `no location with id "${input.toLocationId}" for this producer`, ['toLocationId']);
    }
    return ctx.em.transactional(async (em) => {
      const lot = await em.findOneOrFail(Lot, input.lotId, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      const from = lot.location.id;
      if (from === to.id) return lot;
      const now = ctx.clock.now();
      const quantity = new Decimal(lot.quantity);
      // By SQL, not the entity: a savepoint rolled back below must take the lot's move back with it.
      const relocate = (tx: EntityManager) => sql(tx, 'UPDATE lot SET location_id = ? WHERE id = ?', [to.id, lot.id]);
      if (lot.status === LotStatus.RELEASED && quantity.greaterThan(0)) {
        const productId = lot.product.id;
        // Lots first, then levels (the order every writer takes them in), before the plan is read.
        await lockLevels(em, [productId]);
        const moves: Move[] = [
          { productId, locationId: from, lotId: lot.id, onHandDelta: quantity.negated() },
          { productId, locationId: to.id, lotId: lot.id, onHandDelta: quantity },
        ];
        // The plan after the move reads where the lot is: it moves in the same write as its stock.
        const move = (tx: EntityManager, withCommitments: boolean) => this.guardPlan(tx, { producerId, productId }, ['lotId'], async (planned) => {
          const follow = withCommitments ? await commitmentsWithLot(tx, lot, from, to.id, planned) : [];
          const missing = await this.stock.apply(tx, StockMovementKind.TRANSFER, now, [...moves, ...follow], { kind: EventKind.TRANSFERRED, locationId: to.id, lotId: lot.id }, { levelsLocked: true });
          if (missing.length === 0) await relocate(tx);
          return missing;
        });
        const short = await movedWithCommitments(em, move);
        if (short.length > 0) {
          throw DomainError.of(
            UserErrorCode.INSUFFICIENT_STOCK,
            `only ${formatQuantity(short[0]!.available)} is available where the lot is: the rest is held there, or committed to orders that do not ship this lot`,
            ['lotId'],
          );
        }
      } else {
        await appendEvents(em, now, [{ kind: EventKind.TRANSFERRED, productId: lot.product.id, quantity: lot.quantity, locationId: to.id, lotId: lot.id }]);
        await relocate(em);
      }
      // As written above, so the answer (and the commit's flush) agree with it.
      lot.location = em.getReference(Location, to.id);
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

/**
 * Moves the lot with the commitments that back it: they go with it, or, left where it was, they
 * would back nothing their orders ship there and hold other stock there as committed. But the plan
 * reads an order's commitments by its locations' priority: moved, they may lead it to take, for
 * what it ships from stock kept outside lots, another order's stock at the lot's new place, and
 * the guard refuses the move. Then, in the savepoint's stead, the lot moves alone when other stock
 * where it was can stand in for its stock, as a plain transfer would.
 */
async function movedWithCommitments(
  em: EntityManager,
  move: (tx: EntityManager, withCommitments: boolean) => Promise<LevelShortage[]>,
): Promise<LevelShortage[]> {
  try {
    return await em.transactional((savepoint) => move(savepoint, true));
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    // Refused again (the plan, or the stock where it was), the first refusal says more.
    const alone = await move(em, false).catch((retry: unknown) => {
      if (retry instanceof DomainError) return undefined;
      throw retry;
    });
    if (!alone || alone.length > 0) throw error;
    return alone;
  }
}

/**
 * The commitments at `from` of the orders whose planned lines take `lot`, as much as each takes of
 * it, moved to `to` with the lot: where the goods are committed to go. What an order ships from
 * stock kept outside lots at `from` keeps its commitment there (as commitmentsFollowingTheGoods()
 * leaves it), or the order could no longer ship that.
 */
async function commitmentsWithLot(em: EntityManager, lot: Lot, from: string, to: string, planned: readonly PlannedProductLine[]): Promise<Move[]> {
  const byOrder = new Map<string, { picked: Decimal; untrackedThere: Decimal }>();
  for (const line of planned) {
    // A line may pick the lot twice: what a picker pinned of it, and more of it suggested.
    const picks = line.picks.filter((p) => p.lotId === lot.id);
    if (picks.length === 0) continue;
    const order = byOrder.get(line.producerOrderId) ?? { picked: new Decimal(0), untrackedThere: new Decimal(0) };
    order.picked = order.picked.plus(Decimal.sum(...picks.map((p) => p.quantity)));
    // The line's stock kept outside lots where the lot is, once for the line.
    order.untrackedThere = order.untrackedThere.plus(Decimal.sum(0, ...line.untracked.filter((u) => u.locationId === from).map((u) => u.quantity)));
    byOrder.set(line.producerOrderId, order);
  }
  if (byOrder.size === 0) return [];
  const committed = await sql<{ producerOrderId: string; quantity: string }>(
    em,
    `SELECT producer_order_id AS "producerOrderId", sum(committed_delta)::text AS quantity FROM stock_movement
      WHERE product_id = ? AND location_id = ? AND producer_order_id = ANY(?::uuid[])
      GROUP BY producer_order_id HAVING sum(committed_delta) > 0`,
    [lot.product.id, from, uuidArray(byOrder.keys())],
  );
  return [...byOrder].flatMap(([producerOrderId, { picked, untrackedThere }]) => {
    const here = committed.find((c) => c.producerOrderId === producerOrderId);
    const quantity = here ? Decimal.min(picked, new Decimal(here.quantity).minus(untrackedThere)) : new Decimal(0);
    if (quantity.lessThanOrEqualTo(0)) return [];
    const base = { productId: lot.product.id, producerOrderId, kind: StockMovementKind.COMMIT, reason: `commitment moved with lot ${lot.code}` };
    return [{ ...base, locationId: from, committedDelta: quantity.negated() }, { ...base, locationId: to, committedDelta: quantity }];
  });
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
