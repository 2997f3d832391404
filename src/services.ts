import type { Duration } from 'luxon';
import { ProductService } from './modules/catalogue/product.service.js';
import { EnterpriseService } from './modules/enterprises/enterprise.service.js';
import { type BatcherTimeouts, CheckoutBatcher } from './modules/orders/checkout-batch.js';
import { CheckoutService } from './modules/orders/checkout.service.js';
import { CustomerOrderService } from './modules/orders/customer-order.service.js';
import { ProducerOrderService } from './modules/orders/producer-order.service.js';
import { SessionCancellationService } from './modules/orders/session-cancellation.service.js';
import { SessionCompletionService } from './modules/orders/session-completion.service.js';
import { OfferChangesService, unopenedSessionOffers } from './modules/sessions/offer-changes.service.js';
import { type CloseListener, SalesSessionService } from './modules/sessions/sales-session.service.js';
import { StockService } from './modules/stock/stock.service.js';
import { LocationService } from './modules/stock/location.service.js';
import type { PlanGuard } from './modules/stock/planned-stock.js';
import { LotService } from './modules/lots/lot.service.js';
import { earliestBestBefore } from './modules/lots/lot-strategy.js';
import { PickingService } from './modules/fulfilment/picking.service.js';
import { PackingService } from './modules/fulfilment/packing.service.js';
import { ShippingService } from './modules/fulfilment/shipping.service.js';
import { LOCATION_STRATEGIES, priorityFirst } from './modules/stock/location-strategy.js';
import type { WebhookAddressPolicy } from './modules/webhooks/webhook-address.js';
import { WebhookService } from './modules/webhooks/webhook.service.js';

export interface ServiceOptions {
  holdDuration: Duration;
  /** The longest a hold may last from its checkout, extensions included. */
  holdMaxDuration: Duration;
  /** How long a batch of checkouts, and a checkout waiting for one, may take (see CheckoutBatcher). */
  checkoutBatchTimeouts: BatcherTimeouts;
  /** Which location strategy holds use (a key of LOCATION_STRATEGIES). */
  locationStrategy?: string;
  /** Told when a session closes early, so completion can start at once. */
  closeListener: CloseListener;
  /** Which webhook URLs may be registered. */
  webhookAddresses: WebhookAddressPolicy;
}

/** Builds the services once per process; they hold no request state (that comes in RequestContext). */
export function createServices(options: ServiceOptions) {
  const picking = new PickingService(earliestBestBefore);
  // A transfer or a write-off may not leave an order waiting to be picked short.
  const guardPlan: PlanGuard = (em, where, field, write) => picking.guardPlan(em, where, field, write);
  const stock = new StockService(LOCATION_STRATEGIES[options.locationStrategy ?? priorityFirst.name] ?? priorityFirst, guardPlan);
  const enterprises = new EnterpriseService(unopenedSessionOffers);
  const locations = new LocationService(enterprises, stock, guardPlan);
  const customerOrders = new CustomerOrderService(stock, { duration: options.holdDuration, max: options.holdMaxDuration });
  return {
    stock,
    enterprises,
    products: new ProductService(enterprises, stock),
    locations,
    lots: new LotService(stock, locations, guardPlan),
    picking,
    packing: new PackingService(),
    shipping: new ShippingService(stock, picking),
    salesSessions: new SalesSessionService(enterprises, options.closeListener, customerOrders),
    offerChanges: new OfferChangesService(),
    checkout: new CheckoutService(stock, options.holdDuration, new CheckoutBatcher(options.checkoutBatchTimeouts), customerOrders),
    customerOrders,
    producerOrders: new ProducerOrderService(),
    completion: new SessionCompletionService(stock),
    cancellation: new SessionCancellationService(stock, customerOrders),
    webhooks: new WebhookService(enterprises, options.webhookAddresses),
  };
}

export type Services = ReturnType<typeof createServices>;
