import type { EntityManager } from '@mikro-orm/postgresql';
import type { Decimal } from 'decimal.js';
import { appendEvents, EventKind } from '../../events/event-log.js';
import { DomainError, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { claimIdempotencyKey, hashRequest, idempotencyScope, IdempotentMutation, optionalIdempotencyKey } from '../../shared/idempotency.js';
import type { RequestContext } from '../../shared/request-context.js';
import { sql } from '../../shared/sql.js';
import { canonicalOffers, checkOfferFields, findOfferedProducts, type OfferFields, persistOffer, requireApprovals, requireCapsInSteps, requireStillApproved, sameQuantity } from './offer-inputs.js';
import { Offer } from './offer.entity.js';
import type { RevocationListener } from '../enterprises/enterprise.service.js';
import type { SalesSession } from './sales-session.entity.js';
import { lockSession, MAX_OFFERS_PER_SESSION, requireNotClosed, requireOwnOffer, requireOwnSession } from './sales-session.service.js';

/*
 * A session's offers change while it sells: a producer brings something more (addOffers), a crop
 * fails or a price was wrong (withdrawOffer, then restoreOffer). Each change takes the session FOR
 * UPDATE, as a close does: checkouts in flight (KEY SHARE) finish first, and every checkout after
 * sees the change. A trigger on order lines refuses an offer withdrawn since its checkout read it
 * (Migration20261125081324); the checkout then reads again under lock and answers
 * INSUFFICIENT_STOCK. Each change writes an event naming the session (OFFER_KINDS), which its
 * storefronts' availabilityChanged streams deliver as the offer's availability: a new offer
 * appears there, a withdrawn one reads 0.
 */

export interface AddOffersFields {
  salesSessionId: string;
  offers: OfferFields[];
  idempotencyKey?: string | null;
}

export interface AddedOffers {
  salesSession: SalesSession;
  /** The offers asked for, in the input's order. */
  offers: Offer[];
}

/** Whether a basket's write was refused because one of its offers was withdrawn after its checkout read it. */
export function withdrawnMeanwhile(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string } | null;
  return e?.code === '23514' && e.constraint === 'offer_on_sale';
}

export class OfferChangesService {
  /**
   * Puts more products on sale in a session that has not closed, listed after its offers, under
   * the rules createSalesSession applies (the producer's approval, caps in whole steps). A product
   * the session already offers on these terms is answered with its offer, so a retry of a request
   * whose answer was lost adds nothing; on other terms, or withdrawn, it is refused: the offer's
   * own mutations change it. With an idempotency key, a retry answers with the offers as they are
   * now even if one was changed or withdrawn meanwhile.
   */
  async addOffers(ctx: RequestContext, input: AddOffersFields): Promise<AddedOffers> {
    const errors = new InputErrors();
    if (input.offers.length === 0) errors.invalid('give at least one offer', ['offers']);
    if (input.offers.length > MAX_OFFERS_PER_SESSION) errors.invalid(`a session can have at most ${MAX_OFFERS_PER_SESSION} offers`, ['offers']);
    const caps = checkOfferFields(input.offers, errors);
    const idempotencyKey = optionalIdempotencyKey(input.idempotencyKey, errors);
    errors.throwIfAny();
    const { hubId } = await requireOwnSession(ctx, input.salesSessionId);
    const products = await findOfferedProducts(ctx.em, input.offers, errors);
    errors.throwIfAny();

    return ctx.em.transactional(async (em) => {
      const claim = idempotencyKey && await claimIdempotencyKey(em, ctx.clock.now(), {
        scope: idempotencyScope.hub(hubId),
        idempotencyKey,
        kind: IdempotentMutation.ADD_OFFERS,
        resultId: input.salesSessionId,
        requestHash: hashRequest(IdempotentMutation.ADD_OFFERS, { salesSessionId: input.salesSessionId, offers: canonicalOffers(input.offers) }),
      });
      const session = await lockSession(em, input.salesSessionId);
      const existing = new Map(
        (await em.find(Offer, { salesSession: session.id, product: { $in: input.offers.map((o) => o.productId) } })).map((o) => [o.product.id, o]),
      );
      const answer = (): AddedOffers => ({ salesSession: session, offers: input.offers.map((o) => existing.get(o.productId)!) });
      // The key's first request added them: its offers as they are now, whatever became of them.
      if (claim && !claim.first) return answer();
      const added: (readonly [number, OfferFields])[] = [];
      input.offers.forEach((fields, i) => {
        const offer = existing.get(fields.productId);
        if (!offer) added.push([i, fields]);
        else if (offer.withdrawnAt) errors.invalid(`the product's offer in this session ("${offer.id}") was withdrawn: restoreOffer puts it back on sale`, ['offers', i, 'productId']);
        else if (!sameTerms(offer, fields, caps.get(i) ?? null)) {
          errors.invalid(`the product is already offered in this session ("${offer.id}"): updateOfferPrice and updateOfferCap change it`, ['offers', i, 'productId']);
        }
      });
      errors.throwIfAny();
      // A retry of a request whose answer was lost: every offer is there as asked.
      if (added.length === 0) return answer();

      const now = ctx.clock.now();
      requireNotClosed(session, now, 'the session has closed: it sells nothing more', 'salesSessionId');
      const [listed] = await sql<{ count: number; last: number | null }>(
        em,
        'SELECT count(*)::int AS count, max(position) AS last FROM offer WHERE sales_session_id = ?',
        [session.id],
      );
      if (listed!.count + added.length > MAX_OFFERS_PER_SESSION) {
        throw DomainError.of(UserErrorCode.INVALID_INPUT, `a session can have at most ${MAX_OFFERS_PER_SESSION} offers: it has ${listed!.count}`, ['offers']);
      }
      await requireApprovals(em, ctx.actor, session.hub.id, added, products);
      requireCapsInSteps(added, caps, products);
      const first = (listed!.last ?? -1) + 1;
      added.forEach(([i, fields], n) => existing.set(fields.productId, persistOffer(em, session, fields, caps.get(i), first + n, now)));
      await em.flush();
      await offerEvents(em, now, EventKind.OFFERED, added.map(([, fields]) => existing.get(fields.productId)!));
      return answer();
    });
  }

  /**
   * Takes an offer off sale while its session has not closed: no checkout takes it from now on,
   * and its availability reads 0. Orders already placed keep their lines (the hub cancels those it
   * cannot serve with cancelCustomerOrder). Withdrawing it again answers with it.
   */
  withdrawOffer(ctx: RequestContext, input: { offerId: string }): Promise<Offer> {
    return this.setOnSale(ctx, input.offerId, false);
  }

  /** Puts a withdrawn offer back on sale, as it was, while its session has not closed. Restoring it again answers with it. */
  restoreOffer(ctx: RequestContext, input: { offerId: string }): Promise<Offer> {
    return this.setOnSale(ctx, input.offerId, true);
  }

  private async setOnSale(ctx: RequestContext, offerId: string, onSale: boolean): Promise<Offer> {
    const found = await requireOwnOffer(ctx, offerId);
    return ctx.em.transactional(async (em) => {
      await lockSession(em, found.salesSession.id);
      const offer = await em.findOneOrFail(Offer, found.id, { populate: ['salesSession'], refresh: true });
      // A retry of a change whose answer was lost: the offer is already so.
      if (isOnSale(offer) === onSale) return offer;
      const now = ctx.clock.now();
      requireNotClosed(offer.salesSession, now, 'the session has closed: it sells nothing more', 'offerId');
      // Back on sale is offering the product again: only while its producer approves the hub.
      if (onSale) await requireStillApproved(em, ctx.actor, offer.salesSession.hub.id, [offer.product.id], ['offerId']);
      offer.withdrawnAt = onSale ? null : now;
      await em.flush();
      await offerEvents(em, now, onSale ? EventKind.OFFERED : EventKind.WITHDRAWN, [offer]);
      return offer;
    });
  }
}

function isOnSale(offer: Offer): boolean {
  return !offer.withdrawnAt;
}

/** An existing offer already has what the input asks of it. */
function sameTerms(offer: Offer, fields: OfferFields, cap: Decimal | null): boolean {
  return offer.priceAmount === fields.price.amount
    && offer.priceCurrency === fields.price.currency
    && (offer.minGrade ?? null) === (fields.minGrade ?? null)
    && (offer.minShelfLifeDays ?? null) === (fields.minShelfLifeDays ?? null)
    && sameQuantity(offer.cap, cap);
}

/** One event per offer, naming its session, for its storefronts' availability streams. */
function offerEvents(em: EntityManager, at: Date, kind: EventKind, offers: Offer[]): Promise<void> {
  return appendEvents(em, at, offers.map((offer) => ({ kind, productId: offer.product.id, salesSessionId: offer.salesSession.id, quantity: '0' })));
}

/** The hub's sessions that have not opened at `?` (second parameter), locked as an offer change locks its session. */
const UNOPENED_SESSIONS = `SELECT s.id FROM sales_session s
  WHERE s.hub_id = ? AND s.opens_at > ? AND s.closed_at IS NULL
  ORDER BY s.id FOR UPDATE`;

/**
 * What a revoked approval (revokeHub) takes back: the producer's offers in the hub's sessions that
 * have not opened yet, withdrawn with their events, as no one has bought from them. Sessions open
 * by then sell on as they are.
 */
export const unopenedSessionOffers: RevocationListener = {
  // Before the approval goes: every offer change locks its session and then reads the approval,
  // and the other order would deadlock with it.
  async lock(em, now, hubId) {
    await sql(em, UNOPENED_SESSIONS, [hubId, now]);
  },
  // Judged again at `now`, read after the locks: a session that opened while the revocation
  // waited for them (behind a checkout) has sold, and keeps its offers. The sessions made on the
  // approval meanwhile (its delete waited for them) are locked here.
  async revoked(em, now, producerId, hubId) {
    const withdrawn = await sql<{ productId: string; salesSessionId: string }>(
      em,
      `WITH unopened AS (${UNOPENED_SESSIONS})
       UPDATE offer f SET withdrawn_at = ?
         FROM unopened u, product p
        WHERE f.sales_session_id = u.id AND p.id = f.product_id AND p.producer_id = ? AND f.withdrawn_at IS NULL
       RETURNING f.product_id AS "productId", f.sales_session_id AS "salesSessionId"`,
      [hubId, now, now, producerId],
    );
    await appendEvents(em, now, withdrawn.map((w) => ({ kind: EventKind.WITHDRAWN, productId: w.productId, salesSessionId: w.salesSessionId, quantity: '0' })));
  },
};
