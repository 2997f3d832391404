import type { EntityManager } from '@mikro-orm/postgresql';
import { requireProducer } from '../../auth/policy.js';
import { DomainError, InputErrors, UserErrorCode } from '../../shared/errors.js';
import { createOrReplay } from '../../shared/idempotency.js';
import { isUuid } from '../../shared/ids.js';
import { type KeysetList, keysetPages, type Page } from '../../shared/keyset-pages.js';
import type { RequestContext } from '../../shared/request-context.js';
import { requiredText } from '../../shared/text.js';
import type { EnterpriseService } from '../enterprises/enterprise.service.js';
import type { StockService } from '../stock/stock.service.js';
import { Product } from './product.entity.js';

export interface CreateProductFields {
  producerId: string;
  name: string;
  sku: string;
  unit: string;
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
    errors.throwIfAny();

    requireProducer(ctx.actor, input.producerId, 'producerId');
    const producer = await this.enterprises.requireProducer(ctx, input.producerId, 'producerId');
    return createOrReplay(
      () => ctx.em.transactional(async (em) => {
        const product = new Product(producer, name, sku, unit);
        product.createdAt = ctx.clock.now();
        await em.persistAndFlush(product);
        await this.stock.createMissingLevels(em, producer.id);
        return product;
      }),
      {
        find: () => ctx.em.fork().findOne(Product, { producer: producer.id, sku }),
        same: (found) => found.name === name && found.unit === unit,
        taken: (found) =>
          DomainError.of(UserErrorCode.INVALID_INPUT, `this producer already has a product with SKU "${sku}"${found ? ` ("${found.name}", in ${found.unit})` : ''}`, ['sku']),
      },
    );
  }

  findProduct(ctx: RequestContext, id: string): Promise<Product | null> {
    return isUuid(id) ? ctx.em.findOne(Product, id) : Promise.resolve(null);
  }
}

const PRODUCER_PRODUCTS: KeysetList<Product> = {
  entity: Product,
  table: 'product',
  parent: 'producer_id',
  key: (a) => `${a}.name, ${a}.id`,
  notFound: 'product of this producer',
};

/** Producers' products by name (then id), a page of each, in one statement (keysetPages()). */
export function producerProducts(em: EntityManager, producerIds: readonly string[], page: Page): Promise<Map<string, Product[] | DomainError>> {
  return keysetPages(em, PRODUCER_PRODUCTS, producerIds, page);
}
