import { randomBytes, randomUUID } from 'node:crypto';
import type { FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { EventKind, OFFER_KINDS, STOCK_ONLY_KINDS } from '../../events/event-log.js';
import { ownsWebhook, requireHub, requireProducer, webhookScope } from '../../auth/policy.js';
import { DomainError, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { claimIdempotencyKey, hashRequest, idempotencyScope, IdempotentMutation, optionalIdempotencyKey } from '../../shared/idempotency.js';
import { pageByCreation } from '../../shared/creation-pages.js';
import { isUuid } from '../../shared/ids.js';
import type { RequestContext } from '../../shared/request-context.js';
import { instant, sql } from '../../shared/sql.js';
import { characters } from '../../shared/text.js';
import { type KeysetList, keysetPages } from '../../shared/keyset-pages.js';
import type { EnterpriseService } from '../enterprises/enterprise.service.js';
import { type WebhookAddressPolicy, webhookUrlProblem } from './webhook-address.js';
import { Webhook, WebhookDelivery } from './webhook.entity.js';
import { dropPendingDeliveries } from './webhook-retention.js';

export interface RegisterWebhookFields {
  url: string;
  kinds: string[];
  producerId?: string | null;
  hubId?: string | null;
  secret?: string | null;
  idempotencyKey?: string | null;
}

export interface DeliveryRow {
  id: string;
  eventId: string;
  status: string;
  attemptCount: number;
  nextAttemptAt: Date;
  deliveredAt: Date | null;
  body: string;
}

export interface AttemptRow {
  deliveryId: string;
  attemptedAt: Date;
  statusCode: number | null;
  error: string | null;
}

/** What a webhook may ask for: not the offer events, which are the storefront's live catalogue (availabilityChanged). */
const KINDS = (Object.values(EventKind) as string[]).filter((kind) => !OFFER_KINDS.includes(kind));
/** The longest `kinds` a registration may send: each kind once, and then some repeats. */
const MAX_KINDS_LISTED = 50;

export class WebhookService {
  constructor(
    private readonly enterprises: EnterpriseService,
    private readonly addresses: WebhookAddressPolicy,
  ) {}

  /**
   * Registers an endpoint; returns it with its signing secret, which is shown only here. With an
   * idempotency key, a retry of a registration that committed (its answer lost to a timeout)
   * registers no second endpoint, which would receive every event twice: it answers with the
   * first webhook and its secret, which the client may never have seen and cannot verify a
   * delivery without. The secret comes from the webhook itself (signing needs it as it is), so a
   * replay stores it nowhere else; the key row keeps only a digest of the request.
   */
  async register(ctx: RequestContext, input: RegisterWebhookFields): Promise<{ webhook: Webhook; secret: string }> {
    const errors = new InputErrors();
    let url: URL | undefined;
    try {
      url = new URL(input.url);
    } catch {
      errors.invalid('must be an absolute http:// or https:// URL', ['url']);
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') errors.invalid('must be an http:// or https:// URL', ['url']);
    else if (url) {
      const problem = webhookUrlProblem(url, this.addresses);
      if (problem) errors.invalid(problem, ['url']);
    }
    if (characters(input.url) > 2000) errors.invalid('must be at most 2000 characters', ['url']);
    if (input.kinds.length === 0) errors.invalid(`name at least one kind: ${KINDS.join(', ')}`, ['kinds']);
    else if (input.kinds.length > MAX_KINDS_LISTED) errors.invalid(`name at most ${MAX_KINDS_LISTED} kinds (there are ${KINDS.length}: ${KINDS.join(', ')})`, ['kinds']);
    else {
      input.kinds.forEach((kind, i) => {
        if (!KINDS.includes(kind)) errors.invalid(`"${kind}" is not an event kind (${KINDS.join(', ')})`, ['kinds', i]);
      });
    }
    const secret = input.secret ?? randomBytes(32).toString('hex');
    const secretLength = characters(secret);
    if (secretLength < 16 || secretLength > 200) errors.invalid('must be 16 to 200 characters', ['secret']);
    const idempotencyKey = optionalIdempotencyKey(input.idempotencyKey, errors);
    // An empty id names nothing: left out, it would be the operator's webhook (or the caller's own).
    if (input.producerId === '') errors.add(UserErrorCode.NOT_FOUND, 'no producer with id ""', ['producerId']);
    if (input.hubId === '') errors.add(UserErrorCode.NOT_FOUND, 'no hub with id ""', ['hubId']);
    errors.throwIfAny();
    // Webhooks are an enterprise's own: a hub's see its producer orders, a producer's its own events.
    const { actor } = ctx;
    const producerId = actor.kind === 'producer' ? (input.producerId ?? actor.producerId) : input.producerId;
    const hubId = actor.kind === 'hub' ? (input.hubId ?? actor.hubId) : input.hubId;
    if (producerId) requireProducer(actor, producerId, 'producerId');
    if (hubId) requireHub(actor, hubId, 'hubId');
    if (producerId) await this.enterprises.requireProducer(ctx, producerId, 'producerId');
    if (hubId) await this.enterprises.requireHub(ctx, hubId, 'hubId');
    const kinds = [...new Set(input.kinds)];
    const stockOnly = kinds.filter((kind) => STOCK_ONLY_KINDS.includes(kind));
    if (hubId && stockOnly.length > 0) {
      // Accepted, it would wait for events that never come, and nobody would be told.
      throw DomainError.of(UserErrorCode.INVALID_INPUT, `${stockOnly.join(', ')} events are about a producer's stock and concern no hub: a hub's webhook would receive none`, ['kinds']);
    }

    return ctx.em.transactional(async (em) => {
      const webhookId = randomUUID();
      if (idempotencyKey) {
        const claim = await claimIdempotencyKey(em, ctx.clock.now(), {
          // The webhook's owner, as ownsWebhook() tells it: a hub's webhook is the hub's, even when
          // the operator registered it for one of its producers.
          scope: hubId ? idempotencyScope.hub(hubId) : producerId ? idempotencyScope.producer(producerId) : idempotencyScope.operator,
          idempotencyKey,
          kind: IdempotentMutation.REGISTER_WEBHOOK,
          resultId: webhookId,
          // The secret sent is part of the request (a retry with another is another endpoint's
          // key): hashed with the rest, never kept. A generated one is not: the retry replays it.
          requestHash: hashRequest(IdempotentMutation.REGISTER_WEBHOOK, {
            url: input.url.trim(),
            kinds: [...kinds].sort(),
            producerId: producerId ?? null,
            hubId: hubId ?? null,
            secret: input.secret ?? null,
          }),
        });
        if (!claim.first) {
          const first = await em.findOneOrFail(Webhook, claim.resultId);
          return { webhook: first, secret: first.secret };
        }
      }
      const webhook = em.create(Webhook, {
        id: webhookId,
        url: input.url,
        kinds,
        producerId: producerId ?? undefined,
        hubId: hubId ?? undefined,
        secret,
        active: true,
        createdAt: ctx.clock.now(),
      });
      await em.flush();
      return { webhook, secret };
    });
  }

  /**
   * Stops sending to an endpoint; what was already queued is dropped with it (and what the relay
   * queues as this commits is never sent and dropped later: see webhook-retention.ts).
   */
  async remove(ctx: RequestContext, webhookId: string): Promise<Webhook> {
    const webhook = await this.find(ctx, webhookId);
    if (!webhook) throw DomainError.of(UserErrorCode.NOT_FOUND, `no webhook with id "${webhookId}"`, ['webhookId']);
    await ctx.em.transactional(async (em) => {
      webhook.active = false;
      await em.flush();
      await dropPendingDeliveries(em, webhook.id);
    });
    return webhook;
  }

  /**
   * The webhooks the caller owns (ownsWebhook): a hub those of its scope, a producer those of its
   * own that no hub scopes, the operator all; oldest first, a page at a time.
   */
  list(ctx: RequestContext, filter: { active?: boolean | null; limit: number; after?: string | null }): Promise<Webhook[]> {
    const scope = webhookScope(ctx.actor);
    if (!scope) return Promise.resolve([]);
    const listed: FilterQuery<Webhook> = { ...scope };
    const where: FilterQuery<Webhook> = filter.active === undefined || filter.active === null ? listed : { ...scope, active: filter.active };
    return pageByCreation(ctx.em, Webhook, { listed, where, limit: filter.limit, after: filter.after, notFound: 'webhook of yours' });
  }

  /** The webhook, if the caller owns it (ownsWebhook). */
  async find(ctx: RequestContext, id: string): Promise<Webhook | null> {
    const webhook = isUuid(id) ? await ctx.em.findOne(Webhook, id) : null;
    return webhook && ownsWebhook(ctx.actor, webhook) ? webhook : null;
  }

  async attempts(em: EntityManager, deliveryIds: readonly string[]): Promise<AttemptRow[]> {
    const rows = await sql<AttemptRow>(
      em,
      `SELECT delivery_id::text AS "deliveryId", attempted_at AS "attemptedAt", status_code AS "statusCode", error
         FROM webhook_attempt WHERE delivery_id = ANY(?::bigint[]) ORDER BY id`,
      [`{${deliveryIds.map((id) => BigInt(id).toString()).join(',')}}`],
    );
    return rows.map((r) => ({ ...r, attemptedAt: instant(r.attemptedAt) }));
  }
}

export interface DeliveriesPage {
  limit: number;
  /** Only deliveries older than this one: the next page after the last one seen. */
  before?: string | null;
  pendingOnly: boolean;
}

const WEBHOOK_DELIVERIES: KeysetList<DeliveryRow> = {
  entity: WebhookDelivery,
  table: 'webhook_delivery',
  parent: 'webhook_id',
  key: (a) => `${a}.id`,
  notFound: 'delivery of this webhook',
  descending: true,
  bigintIds: true,
  cursorField: 'before',
  row: {
    select: `t.webhook_id, t.id::text, t.event_position::text AS "eventId", t.status, t.attempt_count AS "attemptCount",
             t.next_attempt_at AS "nextAttemptAt", t.delivered_at AS "deliveredAt", t.body`,
    map: (row) => {
      const { webhook_id: _, ...delivery } = row as unknown as DeliveryRow & { webhook_id: string };
      return { ...delivery, nextAttemptAt: instant(delivery.nextAttemptAt), deliveredAt: instant(delivery.deliveredAt) };
    },
  },
};

/**
 * Webhooks' deliveries, newest first, a page each in one statement however many webhooks a
 * response reaches (webhooks { deliveries }), or only those still pending: while an endpoint
 * fails, the deliveries holding it up are the oldest, which a first page of the newest would not
 * reach. A cursor must be one of the webhook's deliveries (its page may have been forgotten after
 * EVENT_RETENTION: then that is the answer, rather than a page that silently starts over).
 */
export function webhookDeliveries(em: EntityManager, webhookIds: readonly string[], page: DeliveriesPage): Promise<Map<string, DeliveryRow[] | DomainError>> {
  const pending = page.pendingOnly ? { sql: "t.status = 'PENDING'", params: [] } : undefined;
  return keysetPages(em, WEBHOOK_DELIVERIES, webhookIds, { limit: page.limit, after: page.before }, pending);
}
