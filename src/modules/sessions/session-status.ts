import { registerEnumType } from 'type-graphql';

export enum SalesSessionStatus {
  SCHEDULED = 'SCHEDULED',
  OPEN = 'OPEN',
  CLOSED = 'CLOSED',
  COMPLETED = 'COMPLETED',
  /** The hub cancelled it: its orders were cancelled and their stock released (cancelSalesSession). */
  CANCELLED = 'CANCELLED',
}

registerEnumType(SalesSessionStatus, { name: 'SalesSessionStatus' });

import { instant } from '../../shared/sql.js';

export interface SessionTimes {
  opensAt: Date;
  closesAt: Date;
  closedAt?: Date | null;
  completedAt?: Date | null;
  cancelledAt?: Date | null;
  /** Its storefronts were told it closed (SESSION_CLOSED): a replica whose clock is behind must not sell on, or reopen it. */
  closeAnnouncedAt?: Date | null;
}

/** A session's times from a raw row (see instant()). */
export function readSessionTimes<T extends SessionTimes>(row: T): T {
  return {
    ...row,
    opensAt: instant(row.opensAt),
    closesAt: instant(row.closesAt),
    closedAt: instant(row.closedAt ?? null),
    completedAt: instant(row.completedAt ?? null),
    cancelledAt: instant(row.cancelledAt ?? null),
    closeAnnouncedAt: instant(row.closeAnnouncedAt ?? null),
  };
}

/**
 * A session's status follows from the clock, so it is right the instant `closesAt` passes, even
 * before the scheduler has completed the producer orders (that moves it on to COMPLETED).
 */
export function sessionStatus(session: SessionTimes, now: Date): SalesSessionStatus {
  if (session.cancelledAt) return SalesSessionStatus.CANCELLED;
  if (session.completedAt) return SalesSessionStatus.COMPLETED;
  if (session.closedAt || session.closeAnnouncedAt || now >= session.closesAt) return SalesSessionStatus.CLOSED;
  if (now >= session.opensAt) return SalesSessionStatus.OPEN;
  return SalesSessionStatus.SCHEDULED;
}

/**
 * sessionStatus()'s "no longer sells" as SQL over a sales_session row aliased `alias`, at the
 * instant bound to its one parameter. A cancel also sets closed_at, so this covers it.
 */
export function sessionClosedSql(alias: string): string {
  return `(${alias}.completed_at IS NOT NULL OR ${alias}.closed_at IS NOT NULL OR ${alias}.close_announced_at IS NOT NULL OR ${alias}.closes_at <= ?)`;
}

/** Scheduled or open: what may still change, and be closed. */
export function isNotClosed(status: SalesSessionStatus): boolean {
  return status === SalesSessionStatus.SCHEDULED || status === SalesSessionStatus.OPEN;
}
