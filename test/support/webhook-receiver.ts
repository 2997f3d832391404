import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';

export interface ReceivedDelivery {
  body: string;
  signature: string;
  eventId: string;
  producerOrderId: string | null;
  accepted: boolean;
}

/** A trader platform's webhook endpoint on loopback; it answers 503 while `state.failures` is above zero. */
export async function startWebhookReceiver() {
  const received: ReceivedDelivery[] = [];
  const state = { failures: 0 };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const accepted = state.failures <= 0;
      state.failures -= 1;
      received.push({
        body,
        signature: String(req.headers['x-foodhub-signature']),
        eventId: String(req.headers['x-foodhub-event-id']),
        producerOrderId: (JSON.parse(body) as { producerOrderId: string | null }).producerOrderId,
        accepted,
      });
      res.writeHead(accepted ? 204 : 503).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/foodhub`,
    received,
    state,
    accepted: () => received.filter((r) => r.accepted),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Each producer order's deliveries reached the receiver in event order. */
export function expectInOrderPerProducerOrder(deliveries: ReceivedDelivery[]): void {
  const byOrder = new Map<string | null, bigint[]>();
  for (const d of deliveries) byOrder.set(d.producerOrderId, [...(byOrder.get(d.producerOrderId) ?? []), BigInt(d.eventId)]);
  for (const ids of byOrder.values()) expect(ids).toEqual([...ids].sort((x, y) => (x < y ? -1 : 1)));
}
