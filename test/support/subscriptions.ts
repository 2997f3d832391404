import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { App } from '../../src/app.js';
import type { GraphQLClient } from './graphql.js';
import { waitFor } from './wait.js';

/** A graphql-ws subscription that collects what it receives, as a producer's app would. */
export interface Subscription<T> {
  received: T[];
  errors: unknown[];
  /** Waits until at least `count` events have arrived, and returns them. */
  waitForCount(count: number): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * Subscribes with the client's token (sent once, as connectionParams.authorization). With
 * `servedBy`, waits until that server has registered the subscription (or refused it): a live
 * stream starts where the server's events stand when it registers, after the socket is accepted,
 * so an event the test causes before then may come before the stream's start.
 */
export async function subscribe<T>(
  api: GraphQLClient,
  query: string,
  variables: Record<string, unknown>,
  { servedBy }: { servedBy?: App } = {},
): Promise<Subscription<T>> {
  const servedBefore = servedBy?.events.subscriberCount ?? 0;
  const client: Client = createClient({
    url: api.url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    lazy: false,
    // A close is the subscription's error (below), where a test reads it: not also printed.
    onNonLazyError: () => undefined,
    retryAttempts: 0,
    connectionParams: api.token ? { authorization: `Bearer ${api.token}` } : {},
  });
  const received: T[] = [];
  const errors: unknown[] = [];
  let acknowledged = false;
  client.on('connected', () => {
    acknowledged = true;
  });
  const unsubscribe = client.subscribe<Record<string, T>>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) errors.push(...result.errors);
        if (result.data) received.push(Object.values(result.data)[0]!);
      },
      error: (error) => errors.push(error),
      complete: () => undefined,
    },
  );
  await waitFor('the websocket to connect', async () => (acknowledged ? true : undefined));
  if (servedBy) {
    await waitFor('the server to register the subscription', async () =>
      (servedBy.events.subscriberCount > servedBefore || errors.length > 0 ? true : undefined));
  }
  return {
    received,
    errors,
    waitForCount: (count) => waitFor(`${count} events (have ${received.length}, errors ${JSON.stringify(errors)})`, async () => (received.length >= count ? received : undefined)),
    async close() {
      unsubscribe();
      await client.dispose();
    },
  };
}

export const RESERVATIONS = `subscription ($producerId: ID!, $after: ID) {
  reservationChanged(producerId: $producerId, after: $after) {
    id kind quantity at product { id } producerOrder { id orderState lines { quantity } }
  } }`;

export const AVAILABILITY = `subscription ($salesSessionId: ID!, $after: ID) {
  availabilityChanged(salesSessionId: $salesSessionId, after: $after) { id available at offer { id available } } }`;

export interface ReservationEventShape {
  id: string;
  kind: string;
  quantity: string;
  at: string;
  product: { id: string };
  producerOrder: { id: string; orderState: string; lines: { quantity: string }[] };
}

export interface AvailabilityEventShape {
  id: string;
  available: string;
  offer: { id: string; available: string };
}

/**
 * Waits until every event written so far is positioned and this app's replica has handed it out
 * to its streams: a stream opened after starts after them (live streams start where the replica
 * stands), so an event just written is not one of its first.
 */
export async function eventsHandedOut(app: App): Promise<void> {
  await waitFor('every event to be positioned', async () =>
    ((await app.orm.em.fork().getConnection().execute('SELECT 1 FROM domain_event WHERE position IS NULL LIMIT 1')).length === 0 ? true : undefined));
  const newest = BigInt((await app.events.replayableRange({ owners: [] })).newest);
  await waitFor('this replica to hand them out', async () =>
    (BigInt((app.events as unknown as { lastPosition: string }).lastPosition) >= newest ? true : undefined));
}
