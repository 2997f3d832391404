import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';

/**
 * The receivers here listen on loopback, which a server refuses to send webhooks to unless the
 * operator allows private addresses: the environment a server needs to reach them.
 */
export const LOOPBACK_RECEIVERS_ENV = { WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' } as const;

export interface ReceivedDelivery {
  body: string;
  signature: string;
  eventId: string;
  producerOrderId: string | null;
  accepted: boolean;
}

/**
 * A trader platform's webhook endpoint on loopback; it answers 503 while `state.failures` is above
 * zero. While `state.hang` is set it answers nothing (a receiver that has gone silent) until
 * `answerHanging()`; a request the sender gives up on is forgotten. `state.stall` answers 200 and
 * then never finishes the answer: `headers` sends no body at all, `endless` sends one without end.
 */
export async function startWebhookReceiver() {
  const received: ReceivedDelivery[] = [];
  const state: { failures: number; hang: boolean; stall?: 'headers' | 'endless' } = { failures: 0, hang: false };
  const hanging = new Map<ServerResponse, () => void>();
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests += 1;
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (state.stall) return stall(state.stall, res);
      if (state.hang) {
        hanging.set(res, () => answer(body, req.headers, res));
        res.on('close', () => hanging.delete(res));
        return;
      }
      answer(body, req.headers, res);
    });
  });
  const answer = (body: string, headers: IncomingHttpHeaders, res: ServerResponse) => {
    const accepted = state.failures <= 0;
    state.failures -= 1;
    received.push({
      body,
      signature: String(headers['x-foodhub-signature']),
      eventId: String(headers['x-foodhub-event-id']),
      producerOrderId: (JSON.parse(body) as { producerOrderId: string | null }).producerOrderId,
      accepted,
    });
    res.writeHead(accepted ? 204 : 503).end();
  };
  const stall = (how: 'headers' | 'endless', res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': how === 'headers' ? '1000' : String(2 ** 40) });
    res.flushHeaders();
    if (how === 'endless') {
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const more = setInterval(() => res.write(chunk), 5);
      res.on('close', () => clearInterval(more));
    }
  };
  let open = 0;
  server.on('connection', (socket) => {
    open += 1;
    socket.on('close', () => (open -= 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/foodhub`,
    received,
    state,
    accepted: () => received.filter((r) => r.accepted),
    /** Requests that arrived, answered or not. */
    requests: () => requests,
    /** Connections open to it right now, busy or idle. */
    connections: () => open,
    /** Never closes an idle kept-alive connection itself (Node's default is after 5 s), as some receivers do not. */
    keepIdleConnections: () => void (server.keepAliveTimeout = 0),
    /** Requests waiting for an answer right now. */
    hanging: () => hanging.size,
    /** Answers the waiting requests (503 while `failures` is above zero, else 204). */
    answerHanging: () => {
      for (const [res, answerIt] of [...hanging]) {
        hanging.delete(res);
        answerIt();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Hanging requests and the sender's kept-alive sockets would hold the close for seconds.
        server.closeAllConnections();
      }),
  };
}

/** Each producer order's deliveries reached the receiver in event order. */
export function expectInOrderPerProducerOrder(deliveries: ReceivedDelivery[]): void {
  const byOrder = new Map<string | null, bigint[]>();
  for (const d of deliveries) byOrder.set(d.producerOrderId, [...(byOrder.get(d.producerOrderId) ?? []), BigInt(d.eventId)]);
  for (const ids of byOrder.values()) expect(ids).toEqual([...ids].sort((x, y) => (x < y ? -1 : 1)));
}
