import { DomainEvent } from '../events/domain-event.entity.js';
import { PrunedEventMark, PrunedEvents } from '../events/pruned-events.entity.js';
import { Webhook, WebhookAttempt, WebhookDelivery } from '../modules/webhooks/webhook.entity.js';
import { Product } from '../modules/catalogue/product.entity.js';
import { Hub } from '../modules/enterprises/hub.entity.js';
import { Producer } from '../modules/enterprises/producer.entity.js';
import { CustomerOrderLine } from '../modules/orders/customer-order-line.entity.js';
import { CustomerOrder } from '../modules/orders/customer-order.entity.js';
import { ProducerOrder } from '../modules/orders/producer-order.entity.js';
import { Offer } from '../modules/sessions/offer.entity.js';
import { SalesSession } from '../modules/sessions/sales-session.entity.js';
import { StockLevel } from '../modules/stock/stock-level.entity.js';
import { StockMovement } from '../modules/stock/stock-movement.entity.js';
import { Location } from '../modules/stock/location.entity.js';
import { Lot } from '../modules/lots/lot.entity.js';
import { LotPick } from '../modules/lots/lot-pick.entity.js';
import { ShipmentLine } from '../modules/fulfilment/shipment-line.entity.js';
import { HubApproval } from '../modules/enterprises/hub-approval.entity.js';
import { HubCustomer } from '../modules/enterprises/hub-customer.entity.js';
import { IdempotencyKey } from '../shared/idempotency-key.entity.js';

/** Listed explicitly rather than discovered from files, so the build and the tests see the same set. */
export const entities = [
  Producer,
  Hub,
  HubCustomer,
  HubApproval,
  Location,
  Product,
  StockLevel,
  StockMovement,
  Lot,
  LotPick,
  ShipmentLine,
  SalesSession,
  Offer,
  ProducerOrder,
  CustomerOrder,
  CustomerOrderLine,
  DomainEvent,
  PrunedEvents,
  PrunedEventMark,
  Webhook,
  WebhookDelivery,
  WebhookAttempt,
  IdempotencyKey,
];
