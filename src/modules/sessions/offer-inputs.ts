import type { EntityManager } from '@mikro-orm/postgresql';
import { Decimal } from 'decimal.js';
import { needsHubApproval } from '../../auth/policy.js';
import { DomainError, type FieldPath, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { sql, uuidArray } from '../../shared/sql.js';
import { isUuid } from '../../shared/ids.js';
import { checkPrice } from '../../shared/money.js';
import { parseQuantity } from '../../shared/quantity.js';
import type { Actor } from '../../shared/request-context.js';
import { Product } from '../catalogue/product.entity.js';
import { approvedProducerIds } from '../enterprises/hub-approvals.js';
import type { LotGrade } from '../lots/lot.entity.js';
import { capOffSteps } from './offer-caps.js';
import { Offer } from './offer.entity.js';
import type { SalesSession } from './sales-session.entity.js';

/*
 * The offers a hub lists, when it creates a session (createSalesSession) and when it adds to one
 * (addOffers): one set of rules for both, each error at `offers[i]`.
 */

export interface OfferFields {
  productId: string;
  price: { amount: number; currency: string };
  minGrade?: LotGrade | null;
  minShelfLifeDays?: number | null;
  cap?: string | null;
}

/** Offers of the input with their places in it (`offers[i]`), when only some of them are checked. */
export type IndexedOffers = readonly (readonly [number, OfferFields])[];

/** Checks what can be checked without the database; answers each offer's cap (by index) as parsed. */
export function checkOfferFields(offers: readonly OfferFields[], errors: InputErrors): Map<number, Decimal> {
  const seen = new Set<string>();
  const caps = new Map<number, Decimal>();
  offers.forEach((offer, i) => {
    if (seen.has(offer.productId)) errors.invalid('the product is offered twice', ['offers', i, 'productId']);
    seen.add(offer.productId);
    if (!isUuid(offer.productId)) {
      errors.add(UserErrorCode.NOT_FOUND, `no product with id "${offer.productId}"`, ['offers', i, 'productId']);
    }
    checkPrice(offer.price, ['offers', i, 'price'], errors);
    const days = offer.minShelfLifeDays;
    if (days !== null && days !== undefined && (!Number.isInteger(days) || days < 0 || days > 3650)) {
      errors.invalid('must be a whole number of days from 0 to 3650', ['offers', i, 'minShelfLifeDays']);
    }
    const cap = offer.cap === null || offer.cap === undefined ? undefined : parseQuantity(offer.cap, ['offers', i, 'cap'], errors);
    if (cap) caps.set(i, cap);
  });
  return caps;
}

/** The offered products, each of which must exist (NOT_FOUND otherwise). */
export async function findOfferedProducts(em: EntityManager, offers: readonly OfferFields[], errors: InputErrors): Promise<Product[]> {
  const products = await em.find(Product, { id: { $in: [...new Set(offers.map((o) => o.productId))] } });
  const found = new Set(products.map((p) => p.id));
  offers.forEach((offer, i) => {
    if (!found.has(offer.productId)) {
      errors.add(UserErrorCode.NOT_FOUND, `no product with id "${offer.productId}"`, ['offers', i, 'productId']);
    }
  });
  return products;
}

/**
 * Each cap a whole number of its product's sellable steps (capOffSteps()). Checked after the
 * idempotency key, as the approvals are: a retry answers with the first session (or the offers
 * it added) even if the producer changed the step since.
 */
export function requireCapsInSteps(offers: IndexedOffers, caps: ReadonlyMap<number, Decimal>, products: Product[]): void {
  const byId = new Map(products.map((p) => [p.id, p]));
  const errors = new InputErrors();
  for (const [i, offer] of offers) {
    const cap = caps.get(i);
    const offSteps = cap && capOffSteps(cap, byId.get(offer.productId)!);
    if (offSteps) errors.invalid(offSteps, ['offers', i, 'cap']);
  }
  errors.throwIfAny();
}

/**
 * A hub offers only the products of producers that approved it (approveHub); the operator any
 * (needsHubApproval). Read FOR KEY SHARE: a revocation committing meanwhile waits for this
 * transaction, so the offers are made under the approvals as they stand.
 */
export async function requireApprovals(em: EntityManager, actor: Actor, hubId: string, offers: IndexedOffers, products: Product[]): Promise<void> {
  if (!needsHubApproval(actor)) return;
  const producerOf = new Map(products.map((p) => [p.id, p.producer.id]));
  const approved = await approvedProducerIds(em, hubId, [...new Set(producerOf.values())], true);
  const errors = new InputErrors();
  offers.forEach(([i, offer]) => {
    if (!approved.has(producerOf.get(offer.productId)!)) {
      errors.add(UserErrorCode.FORBIDDEN, "the product's producer has not approved this hub to offer its products (approveHub)", ['offers', i, 'productId']);
    }
  });
  errors.throwIfAny();
}

/**
 * For a hub's own change that keeps selling products in one of its sessions (an offer put back on
 * sale, a close moved later): each product's producer must still approve the hub. A revocation
 * leaves a session's offers as they are until it closes; it is not undone by re-listing what was
 * withdrawn, nor by keeping the session open for years. The operator acts for everyone.
 */
export async function requireStillApproved(em: EntityManager, actor: Actor, hubId: string, productIds: readonly string[], field: FieldPath): Promise<void> {
  if (!needsHubApproval(actor) || productIds.length === 0) return;
  const rows = await sql<{ producerId: string }>(em, 'SELECT DISTINCT producer_id AS "producerId" FROM product WHERE id = ANY(?::uuid[])', [uuidArray(productIds)]);
  const producers = rows.map((r) => r.producerId);
  const approved = await approvedProducerIds(em, hubId, producers, true);
  if (producers.some((id) => !approved.has(id))) {
    throw DomainError.of(UserErrorCode.FORBIDDEN, "a product's producer no longer approves this hub to offer its products (revokeHub)", field);
  }
}

/** A new offer of the session, persisted with `em`, listed at `position`. */
export function persistOffer(em: EntityManager, session: SalesSession, fields: OfferFields, cap: Decimal | undefined, position: number, at: Date): Offer {
  const offer = new Offer(session, em.getReference(Product, fields.productId), fields.price.amount, fields.price.currency);
  offer.position = position;
  offer.createdAt = at;
  offer.minGrade = fields.minGrade ?? undefined;
  offer.minShelfLifeDays = fields.minShelfLifeDays ?? undefined;
  offer.cap = cap?.toFixed();
  em.persist(offer);
  return offer;
}

/** Two optional quantities, however spelt ("2", "2.000"): equal. */
export function sameQuantity(stored: string | null | undefined, asked: Decimal | null): boolean {
  if (stored === null || stored === undefined || asked === null) return (stored ?? null) === asked;
  return asked.equals(stored);
}

/** Offers as a retry must repeat them: by product (their order in the list means nothing). */
export function canonicalOffers(offers: readonly OfferFields[]): unknown[] {
  return offers
    // A cap only when set, so requests from before caps existed hash as they did.
    .map((offer) => [offer.productId, offer.price.amount, offer.price.currency, offer.minGrade ?? null, offer.minShelfLifeDays ?? null,
      ...(offer.cap ? [new Decimal(offer.cap.trim()).toFixed()] : [])])
    .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
}
