import { registerEnumType } from 'type-graphql';

/** DFC OrderState of a producer order. */
export enum OrderState {
  DRAFT = 'DRAFT',
  HELD = 'HELD',
  COMPLETE = 'COMPLETE',
  CANCELLED = 'CANCELLED',
}

/** DFC FulfilmentState of a producer order. */
export enum FulfilmentState {
  HELD = 'HELD',
  UNFULFILLED = 'UNFULFILLED',
  FULFILLED = 'FULFILLED',
  CANCELLED = 'CANCELLED',
}

export enum CustomerOrderStatus {
  PENDING_PAYMENT = 'PENDING_PAYMENT',
  CONFIRMED = 'CONFIRMED',
  PAYMENT_FAILED = 'PAYMENT_FAILED',
  EXPIRED = 'EXPIRED',
  CANCELLED = 'CANCELLED',
}

/** Customer orders whose lines hold (or, after completion, commit) producer stock. */
export const LIVE_CUSTOMER_ORDER_STATUSES = [CustomerOrderStatus.PENDING_PAYMENT, CustomerOrderStatus.CONFIRMED] as const;

registerEnumType(OrderState, { name: 'OrderState' });
registerEnumType(FulfilmentState, { name: 'FulfilmentState' });
registerEnumType(CustomerOrderStatus, { name: 'CustomerOrderStatus' });

/** A pending order's hold has lapsed at `now`, whether or not the scheduler has marked it EXPIRED yet. */
export function holdLapsed(order: { status: CustomerOrderStatus; holdExpiresAt: Date | null }, now: Date): boolean {
  return order.status === CustomerOrderStatus.PENDING_PAYMENT && order.holdExpiresAt !== null && order.holdExpiresAt <= now;
}
