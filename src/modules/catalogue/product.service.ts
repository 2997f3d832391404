import { DeadlockException, UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { requireProducer, seesProductsOffSale } from '../../auth/policy.js';
import { DomainError, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { createOrReplay, hashRequest } from '../../shared/idempotency.js';
import { isUuid } from '../../shared/ids.js';
import { type KeysetList, keysetPages, type Page } from '../../shared/keyset-pages.js';
import type { RequestContext } from '../../shared/request-context.js';
import { sql } from '../../shared/sql.js';
import { requiredText } from '../../shared/text.js';
import type { EnterpriseService } from '../enterprises/enterprise.service.js';
import { sessionClosedSql } from '../sessions/session-status.js';
import { approvedProducerIds } from '../enterprises/hub-approvals.js';
import type { StockService } from '../stock/stock.service.js';
import { Product } from './product.entity.js';
import { DEFAULT_SELLABLE_STEP, type ProductDetails, type ProductDetailsFields, productDetails, sameDetails } from './product-details.js';

export interface CreateProductFields extends ProductDetailsFields {
  producerId: string;
  name: string;
  sku: string;
  unit: string;
}

export interface UpdateProductFields extends ProductDetailsFields {
  productId: string;
  name?: string | null;
  sku?: string | null;
}

export class ProductService {
  constructor(
    private readonly enterprises: EnterpriseService,
    private readonly stock: StockService,
  ) {}

  /**
   * Creates a product with an empty stock level at each location, so it can be offered and stocked
   * at once. The SKU names it: the same request again (a retry whose answer was lost) answers with
   * the product it made, and another product under that SKU is refused.
   */
  async createProduct(ctx: RequestContext, input: CreateProductFields): Promise<Product> {
    const errors = new InputErrors();
    const name = requiredText(input.name, ['name'], 200, errors);
    const sku = requiredText(input.sku, ['sku'], 100, errors);
    const unit = requiredText(input.unit, ['unit'], 20, errors);
    // Every detail, those left out at their defaults: a retry that leaves out what the first
    // request set asks for another product, which its SKU then refuses.
    const details = productDetails({
      description: input.description ?? null,
      gtin: input.gtin ?? null,
      sellableStep: input.sellableStep ?? DEFAULT_SELLABLE_STEP,
      netWeightKg: input.netWeightKg ?? null,
      dimensions: input.dimensions ?? null,
      wholesalePrice: input.wholesalePrice ?? null,
    }, errors);
    errors.throwIfAny();

    requireProducer(ctx.actor, input.producerId, 'producerId');
    const producer = await this.enterprises.requireProducer(ctx, input.producerId, 'producerId');
    const creationHash = hashRequest('createProduct', { producerId: producer.id, name, sku, unit, ...details });
    return createOrReplay(
      () => ctx.em.transactional(async (em) => {
        const product = Object.assign(new Product(producer, name, sku, unit), details);
        product.createdAt = ctx.clock.now();
        product.creationHash = creationHash;
        await em.persistAndFlush(product);
        await this.stock.createMissingLevels(em, producer.id);
        return product;
      }),
      {
        find: () => ctx.em.fork().findOne(Product, { producer: producer.id, sku }),
        // The same request answers with the product as it is now, whatever updateProduct changed
        // since (one made before digests were kept: only while it is as the request asks).
        same: (found) => (found.creationHash
          ? found.creationHash === creationHash
          : found.name === name && found.unit === unit && sameDetails(found, details)),
        taken: (found) => skuTaken(sku, found),
      },
    );
  }

  /**
   * Changes what the fields name, for the product's producer. The unit is not among them: stock,
   * holds and orders are counted in it. A new step applies to checkouts from then on; lines
   * already held keep their quantities.
   */
  async updateProduct(ctx: RequestContext, input: UpdateProductFields): Promise<Product> {
    const errors = new InputErrors();
    const changes: Partial<Pick<Product, 'name' | 'sku'>> & ProductDetails = productDetails(input, errors);
    if (input.name === null) errors.invalid('cannot be cleared', ['name']);
    else if (input.name !== undefined) changes.name = requiredText(input.name, ['name'], 200, errors);
    if (input.sku === null) errors.invalid('cannot be cleared', ['sku']);
    else if (input.sku !== undefined) changes.sku = requiredText(input.sku, ['sku'], 100, errors);
    errors.throwIfAny();

    // Found whoever asks: another producer's is FORBIDDEN, as every write of another's is.
    const product = isUuid(input.productId) ? await ctx.em.findOne(Product, input.productId) : null;
    if (!product) throw DomainError.of(UserErrorCode.NOT_FOUND, `no product with id "${input.productId}"`, ['productId']);
    requireProducer(ctx.actor, product.producer.id, 'productId');
    try {
      return await ctx.em.transactional(async (em) => {
        // NO KEY UPDATE, not FOR UPDATE: every checkout's order line takes the product FOR KEY
        // SHARE (its foreign key), and editing a description must not queue behind those in flight
        // nor hold up new ones. A new SKU (a unique key) still waits for them, as PostgreSQL decides.
        await sql(em, 'SELECT 1 FROM product WHERE id = ? FOR NO KEY UPDATE', [product.id]);
        const locked = await em.findOneOrFail(Product, product.id, { refresh: true });
        em.assign(locked, changes);
        return locked;
      });
    } catch (error) {
      // A deadlock on the SKU's unique index is two products swapping SKUs at once: each new SKU
      // was the other's, so each is taken, as either would hear alone.
      const sku = changes.sku;
      if (sku !== undefined && (error instanceof UniqueConstraintViolationException || error instanceof DeadlockException)) {
        throw skuTaken(sku, await ctx.em.fork().findOne(Product, { producer: product.producer.id, sku }));
      }
      throw error;
    }
  }

  /**
   * A product on sale in a session selling or still to come (the catalogue), one offered in a
   * session the caller reads whole (OFFERED_TO_READER), or one whose producer shares its products
   * off sale with the caller (seesProductsOffSale()). On sale `at` that instant: the request's
   * (GraphQLContext.readAt).
   */
  async findProduct(ctx: RequestContext, id: string, at = ctx.clock.now()): Promise<Product | null> {
    if (!isUuid(id)) return null;
    const product = await ctx.em.findOne(Product, id);
    if (!product) return null;
    const producerId = product.producer.id;
    const approved = async (hubId: string) => (await approvedProducerIds(ctx.em, hubId, [producerId], false)).has(producerId);
    if (await seesProductsOffSale(ctx.actor, producerId, approved)) return product;
    const { hubId, producerId: readerId } = catalogueReader(ctx);
    const [visible] = await sql(ctx.em, `SELECT 1 FROM product t WHERE t.id = ? AND (${ON_SALE} OR ${OFFERED_TO_READER})`, [id, at, hubId, readerId]);
    return visible ? product : null;
  }
}

function skuTaken(sku: string, found: Product | null): DomainError {
  return DomainError.of(UserErrorCode.INVALID_INPUT, `this producer already has a product with SKU "${sku}"${found ? ` ("${found.name}", in ${found.unit})` : ''}`, ['sku']);
}

const PRODUCER_PRODUCTS: KeysetList<Product> = {
  entity: Product,
  table: 'product',
  parent: 'producer_id',
  // Oldest first: a key that never changes, so a product renamed between two pages neither
  // skips nor repeats any (by name, paging went on from its new name).
  key: (a) => `${a}.created_at, ${a}.id`,
  notFound: 'product of this producer',
};

/**
 * Product `t` is offered, and not withdrawn, in a session selling or still to come at the instant
 * given as the parameter (the catalogue, all that seesProductsOffSale() does not share).
 */
const ON_SALE = `EXISTS (SELECT 1 FROM offer f JOIN sales_session s ON s.id = f.sales_session_id
                          WHERE f.product_id = t.id AND f.withdrawn_at IS NULL AND NOT ${sessionClosedSql('s')})`;

/**
 * Product `t` was offered in a session the caller reads whole (seesSessionWhole()), given as two
 * parameters, a hub and a producer (null: none): any session of the hub (a hub reads the products
 * of its own sessions, ended or withdrawn, whoever set them up and whether or not their producer
 * still approves it), or one that offered the producer's products too, where `t` was not
 * withdrawn (a producer reads the sessions it supplied, but only its own withdrawn offers).
 */
const OFFERED_TO_READER = `(EXISTS (SELECT 1 FROM offer f JOIN sales_session s ON s.id = f.sales_session_id WHERE f.product_id = t.id AND s.hub_id = ?::uuid)
   OR EXISTS (SELECT 1 FROM offer f JOIN offer mine ON mine.sales_session_id = f.sales_session_id JOIN product p ON p.id = mine.product_id
               WHERE f.product_id = t.id AND f.withdrawn_at IS NULL AND p.producer_id = ?::uuid))`;

/** Who reads, for OFFERED_TO_READER: the hub or the producer the caller acts for. */
export interface CatalogueReader {
  hubId: string | null;
  producerId: string | null;
}

export function catalogueReader(ctx: RequestContext): CatalogueReader {
  return { hubId: ctx.actor.kind === 'hub' ? ctx.actor.hubId : null, producerId: ctx.actor.kind === 'producer' ? ctx.actor.producerId : null };
}

export interface ProducerProductsPage extends Page {
  /**
   * Only the products on sale at this instant (ON_SALE), or offered in the sessions `reader` reads
   * whole (OFFERED_TO_READER): the catalogue, for a caller the producer shares no more with.
   */
  onSaleAt?: Date;
  reader?: CatalogueReader;
}

/** Producers' products, oldest first, a page of each, in one statement (keysetPages()). */
export function producerProducts(em: EntityManager, producerIds: readonly string[], { onSaleAt, reader, ...page }: ProducerProductsPage): Promise<Map<string, Product[] | DomainError>> {
  return keysetPages(em, PRODUCER_PRODUCTS, producerIds, page, onSaleAt
    ? { sql: `(${ON_SALE} OR ${OFFERED_TO_READER})`, params: [onSaleAt, reader?.hubId ?? null, reader?.producerId ?? null] }
    : undefined);
}
