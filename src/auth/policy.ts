import { DomainError, UserErrorCode } from '../shared/errors.js';
import type { Actor } from '../shared/request-context.js';

// Who may act for whom. Roles are checked at the API edge (@Allow); these are the ownership rules,
// and every service asks them here, so each rule is written once.

/** The platform operator, or the producer itself. */
export function actsForProducer(actor: Actor, producerId: string): boolean {
  return actor.kind === 'admin' || actor.kind === 'system' || (actor.kind === 'producer' && actor.producerId === producerId);
}

/** The platform operator, or the hub itself (its back office or storefront backend). */
export function actsForHub(actor: Actor, hubId: string): boolean {
  return actor.kind === 'admin' || actor.kind === 'system' || (actor.kind === 'hub' && actor.hubId === hubId);
}

/** A customer order is its hub's, and its customer's. */
export function seesCustomerOrder(actor: Actor, order: { hubId: string; customerRef: string }): boolean {
  return actsForHub(actor, order.hubId) || (actor.kind === 'customer' && actor.hubId === order.hubId && actor.customerRef === order.customerRef);
}

/**
 * The customer orders an actor sees (seesCustomerOrder), as a filter for lists: a hub its own, a
 * customer theirs, the operator all ({}); nobody else any (null).
 */
export function customerOrderScope(actor: Actor): { hubId?: string; customerRef?: string } | null {
  if (actor.kind === 'admin' || actor.kind === 'system') return {};
  if (actor.kind === 'hub') return { hubId: actor.hubId };
  if (actor.kind === 'customer') return { hubId: actor.hubId, customerRef: actor.customerRef };
  return null;
}

/**
 * Of a customer order, a producer (who reaches it through its pack list) sees only the lines of
 * its own products: it packs its part of the basket, and the rest is other producers' business.
 * Whoever reaches the order otherwise (its hub, its customer, the operator) sees every line.
 */
export function seesCustomerOrderLine(actor: Actor, line: { producerId: string }): boolean {
  return actor.kind !== 'producer' || actor.producerId === line.producerId;
}

/**
 * A webhook is its hub's, else its producer's (as its idempotency key is): one the operator
 * registered for a hub and one of its producers carries the hub's URL and the hub's events, and
 * that producer may neither read nor remove it. The operator owns every webhook.
 */
export function ownsWebhook(actor: Actor, webhook: { hubId?: string | null; producerId?: string | null }): boolean {
  if (actor.kind === 'admin') return true;
  return webhook.hubId ? actor.kind === 'hub' && actor.hubId === webhook.hubId : actor.kind === 'producer' && actor.producerId === webhook.producerId;
}

/**
 * A producer's price to hubs is its own, the hubs' it approved (approveHub) and the operator's.
 * `approved` is asked only for a hub: whether the producer approved it.
 */
export async function seesWholesalePrice(actor: Actor, producerId: string, approved: (hubId: string) => Promise<boolean>): Promise<boolean> {
  return actor.kind === 'hub' ? approved(actor.hubId) : actsForProducer(actor, producerId);
}

/**
 * A producer's products on sale in no session (its plans, for next season say) are, like its
 * wholesale price, its own, the hubs' it approved (which offer them) and the operator's: other
 * producers and hubs read its catalogue as a visitor does. `approved` as for seesWholesalePrice.
 */
export const seesProductsOffSale = seesWholesalePrice;

/**
 * Who reads a sales session whole, once it ended and with its withdrawn offers: its hub, the
 * operator, and the producers whose products it offered (their orders came from it). Anyone else
 * (another hub, another producer, a shopper, a visitor) reads it as the catalogue does, while it
 * sells. `supplied` is asked only for a producer: whether the session offered its products.
 */
export async function seesSessionWhole(actor: Actor, hubId: string, supplied: (producerId: string) => Promise<boolean>): Promise<boolean> {
  return actor.kind === 'producer' ? supplied(actor.producerId) : actsForHub(actor, hubId);
}

/** A hub's own sessions offer only what producers approved it for; the operator acts for every enterprise. */
export function needsHubApproval(actor: Actor): boolean {
  return actor.kind === 'hub';
}

/** The webhooks an actor owns (ownsWebhook), as a filter for lists; null: none. */
export function webhookScope(actor: Actor): { hubId?: string | null; producerId?: string } | null {
  if (actor.kind === 'admin') return {};
  if (actor.kind === 'hub') return { hubId: actor.hubId };
  if (actor.kind === 'producer') return { hubId: null, producerId: actor.producerId };
  return null;
}

/** A producer order is its producer's and its hub's. */
export function seesProducerOrder(actor: Actor, order: { producerId: string; hubId: string }): boolean {
  return actsForProducer(actor, order.producerId) || actsForHub(actor, order.hubId);
}

export function requireProducer(actor: Actor, producerId: string, field: string): void {
  if (!actsForProducer(actor, producerId)) throw forbidden('this belongs to another producer', field);
}

export function requireHub(actor: Actor, hubId: string, field: string): void {
  if (!actsForHub(actor, hubId)) throw forbidden('this belongs to another hub', field);
}

export function forbidden(message: string, field: string): DomainError {
  return DomainError.of(UserErrorCode.FORBIDDEN, message, [field]);
}
