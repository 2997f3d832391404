import { type Request, type Response, Router } from 'express';
import type { Logger } from 'pino';
import { AuthenticationError, KeysUnavailableError } from '../../auth/tokens.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { DateTimeScalar } from '../../graphql/scalars.js';
import { isUnavailable } from '../../graphql/format-error.js';
import { DomainError, UserErrorCode } from '../../shared/errors.js';
import { canonicalId } from '../../shared/ids.js';
import { formatQuantity } from '../../shared/quantity.js';
import type { Actor } from '../../shared/request-context.js';
import { toCsv } from './csv.js';
import type { PickItem } from './picking.service.js';

/** The location column of a pick-list row for what is ordered but short: there is nothing to pick. */
const SHORT_ROW = 'SHORT (no stock to pick)';

export interface CsvRouteDeps {
  verifyToken(authorization: string | undefined): Promise<Actor>;
  newContext(actor: Actor): GraphQLContext;
  logger: Logger;
}

const VIEWS = ['batch', 'zone', 'wave'] as const;

/**
 * The pick and pack lists as CSV downloads, for a printer or a spreadsheet. Same bearer tokens
 * and the same rules as the GraphQL queries they mirror.
 *   GET /csv/pick-list?producerId=…&deliveryDay=YYYY-MM-DD&view=batch|zone|wave
 *   GET /csv/pack-list?producerId=…&deliveryDay=YYYY-MM-DD[&hubId=…]
 */
export function csvRoutes(deps: CsvRouteDeps): Router {
  const router = Router();

  router.get('/csv/pick-list', (req, res) => respond(deps, req, res, 'pick-list', async (ctx, q) => {
    const view = (q.view ?? 'batch') as (typeof VIEWS)[number];
    if (!VIEWS.includes(view)) throw DomainError.of(UserErrorCode.INVALID_INPUT, `view must be one of ${VIEWS.join(', ')}`, ['view']);
    const list = await ctx.services.picking.pickList(ctx, q.producerId ?? '', q.deliveryDay ?? '');
    const names = await namesOf(ctx, list.items.concat(list.waves.flatMap((w) => w.items)));
    const lines = (item: PickItem) => [
      ...item.picks.map((p) => ({ lot: names.lot(p.lotId), location: names.location(p.locationId), quantity: p.quantity.toFixed() })),
      ...item.untracked.map((u) => ({ lot: { code: '', bestBefore: '' }, location: names.location(u.locationId), quantity: u.quantity.toFixed() })),
      // Nothing to pick: said on a row of its own so the list's quantities still add up to what was ordered.
      ...(item.short.greaterThan(0) ? [{ lot: { code: '', bestBefore: '' }, location: SHORT_ROW, quantity: item.short.toFixed() }] : []),
    ];
    const product = (item: PickItem) => { const p = names.product(item.productId); return [p.name, p.sku, p.unit, item.quantity.toFixed()]; };
    if (view === 'batch') {
      return toCsv(['product', 'sku', 'unit', 'total', 'lot', 'best_before', 'location', 'pick'],
        list.items.flatMap((item) => lines(item).map((l) => [...product(item), l.lot.code, l.lot.bestBefore, l.location, l.quantity])));
    }
    if (view === 'zone') {
      return toCsv(['location', 'product', 'sku', 'unit', 'total', 'lot', 'best_before', 'pick'],
        list.zones.flatMap((zone) => zone.items.flatMap((item) => lines(item).map((l) => [names.location(zone.locationId), ...product(item), l.lot.code, l.lot.bestBefore, l.quantity]))));
    }
    const hubs = await ctx.loaders.hub.loadMany(list.waves.map((w) => w.hubId));
    return toCsv(['delivers_at', 'hub', 'product', 'sku', 'unit', 'total', 'lot', 'best_before', 'location', 'pick'],
      list.waves.flatMap((wave, i) => wave.items.flatMap((item) => lines(item).map((l) => [
        DateTimeScalar.serialize(wave.deliversAt), (hubs[i] as { name: string }).name, ...product(item), l.lot.code, l.lot.bestBefore, l.location, l.quantity]))));
  }));

  router.get('/csv/pack-list', (req, res) => respond(deps, req, res, 'pack-list', async (ctx, q) => {
    const hubs = await ctx.services.packing.packList(ctx, q.producerId ?? '', q.deliveryDay ?? '', q.hubId);
    const productIds = hubs.flatMap((h) => h.customers.flatMap((c) => c.lines.map((l) => l.productId)));
    const [products, hubEntities] = await Promise.all([ctx.loaders.product.loadMany(productIds), ctx.loaders.hub.loadMany(hubs.map((h) => h.hubId))]);
    const product = new Map(productIds.map((id, i) => [id, products[i] as { name: string; sku: string; unit: string }]));
    return toCsv(['hub', 'delivers_at', 'customer', 'priority', 'customer_order_id', 'product', 'sku', 'unit', 'ordered', 'fulfilled'],
      hubs.flatMap((hub, i) => hub.customers.flatMap((customer) => customer.lines.map((line) => {
        const p = product.get(line.productId)!;
        return [(hubEntities[i] as { name: string }).name, DateTimeScalar.serialize(hub.deliversAt), customer.customerRef, customer.priority,
          customer.customerOrderId, p.name, p.sku, p.unit, formatQuantity(line.quantity), line.fulfilledQuantity === null ? null : formatQuantity(line.fulfilledQuantity)];
      }))));
  }));

  return router;
}

const PARAMETERS = ['producerId', 'deliveryDay', 'view', 'hubId'] as const;
type Query = Partial<Record<(typeof PARAMETERS)[number], string>>;

/**
 * A parameter given twice, or as a[b]=… or a[]=… (which Express's query parser keeps as a name of
 * its own), has no one value to read; one spelt in another case (hubid) is not the one read. Each
 * is said so, not read as absent: the caller would get another list than it asked for.
 */
function queryProblem(query: Request['query']): { field: string; message: string } | undefined {
  for (const [key, value] of Object.entries(query)) {
    const name = key.replace(/\[.*$/s, '');
    const meant = PARAMETERS.find((known) => known.toLowerCase() === name.toLowerCase());
    // A parameter no route reads (a link's own tracking or list parameters) is left alone.
    if (!meant) continue;
    if (typeof value !== 'string' || name !== key) return { field: name, message: `give ${name} once, as plain text` };
    if (meant !== key) return { field: key, message: `"${key}" is spelt ${meant}` };
  }
  return undefined;
}

async function respond(deps: CsvRouteDeps, req: Request, res: Response, name: string, build: (ctx: GraphQLContext, q: Query) => Promise<string>): Promise<void> {
  try {
    if (!req.headers.authorization) {
      res.status(401).setHeader('www-authenticate', 'Bearer').json({ error: 'a bearer token is required', code: 'UNAUTHENTICATED' });
      return;
    }
    const ctx = deps.newContext(await deps.verifyToken(req.headers.authorization));
    const problem = queryProblem(req.query);
    if (problem) throw DomainError.of(UserErrorCode.INVALID_INPUT, problem.message, [problem.field]);
    // Ids read as the GraphQL API reads them (its ID scalar): canonical.
    const query = Object.fromEntries(Object.entries(req.query as Record<string, string>)
      .map(([key, value]) => [key, key.endsWith('Id') ? canonicalId(value) : value])) as Query;
    const csv = await build(ctx, query);
    res.status(200).type('text/csv; charset=utf-8').setHeader('content-disposition', `attachment; filename="${name}-${query.deliveryDay}.csv"`);
    // Customer references and quantities: kept by no cache along the way, nor by the browser.
    res.setHeader('cache-control', 'no-store');
    res.send(csv);
  } catch (error) {
    if (error instanceof KeysUnavailableError) {
      deps.logger.warn({ err: error }, 'service unavailable');
      res.status(503).json({ error: error.message, code: 'SERVICE_UNAVAILABLE', retryable: true });
    } else if (error instanceof AuthenticationError) {
      res.status(401).setHeader('www-authenticate', 'Bearer error="invalid_token"').json({ error: error.message, code: 'UNAUTHENTICATED' });
    } else if (error instanceof DomainError) {
      const forbidden = error.userErrors.some((e) => e.code === UserErrorCode.FORBIDDEN);
      res.status(forbidden ? 403 : 400).json({ error: error.message, code: forbidden ? 'FORBIDDEN' : 'BAD_USER_INPUT', userErrors: error.userErrors });
    } else if (isUnavailable(error)) {
      // As the GraphQL endpoint answers it: a client retries a download as it retries a query.
      deps.logger.warn({ err: error }, 'database unavailable');
      res.status(503).json({ error: 'The service is temporarily unavailable; retry the request.', code: 'SERVICE_UNAVAILABLE', retryable: true });
    } else {
      throw error;
    }
  }
}

/** Names for the ids in pick items, loaded in one batch per kind. */
async function namesOf(ctx: GraphQLContext, items: PickItem[]) {
  const productIds = [...new Set(items.map((i) => i.productId))];
  const lotIds = [...new Set(items.flatMap((i) => i.picks.map((p) => p.lotId)))];
  const locationIds = [...new Set(items.flatMap((i) => [...i.picks.map((p) => p.locationId), ...i.untracked.map((u) => u.locationId)]))];
  const [products, lots, locations] = await Promise.all([
    ctx.loaders.product.loadMany(productIds), ctx.loaders.lot.loadMany(lotIds), ctx.loaders.location.loadMany(locationIds),
  ]);
  const product = new Map(productIds.map((id, i) => [id, products[i] as { name: string; sku: string; unit: string }]));
  const lot = new Map(lotIds.map((id, i) => [id, lots[i] as { code: string; bestBefore?: string }]));
  const location = new Map(locationIds.map((id, i) => [id, (locations[i] as { name: string }).name]));
  return {
    product: (id: string) => product.get(id)!,
    lot: (id: string) => ({ code: lot.get(id)!.code, bestBefore: lot.get(id)!.bestBefore ?? '' }),
    location: (id: string) => location.get(id)!,
  };
}
