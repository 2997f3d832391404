import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signToken } from '../../src/auth/tokens.js';
import { GraphQLClient } from '../support/graphql.js';
import * as op from '../support/operations.js';
import { capturedLogs, startTestApp, TEST_JWT_SECRET, type TestApp } from '../support/test-app.js';
import { waitFor } from '../support/wait.js';

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: response.status, body: (await response.json()) as { errors?: { message: string; extensions?: { code?: string } }[]; data?: unknown } };
}

/**
 * Sends raw HTTP over a socket and returns everything received until the server closes it (or,
 * with afterFirstAnswer, sends the next part once the server first answers). With end: false the
 * socket stays open for writing, as a client still sending would keep it.
 */
async function exchange(endpoint: string, parts: string[], options: { end?: boolean; afterFirstAnswer?: boolean } = {}): Promise<string> {
  const { connect } = await import('node:net');
  const url = new URL(endpoint);
  return new Promise<string>((resolve, reject) => {
    const pending = [...parts];
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(pending.shift()!);
      if (!options.afterFirstAnswer) {
        for (const part of pending.splice(0)) socket.write(part);
        if (options.end !== false) socket.end();
      }
    });
    let received = '';
    socket.on('data', (data) => {
      received += data.toString();
      if (options.afterFirstAnswer && pending.length > 0) socket.write(pending.shift()!);
    });
    socket.on('close', () => resolve(received)).on('error', reject);
  });
}

describe('hostile requests are cut short', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { CORS_ORIGINS: 'https://shop.example.org', HTTP_REQUEST_TIMEOUT: 'PT1S' } });
  });
  afterAll(() => t.stop());

  async function counts() {
    const { rows } = await t.db.query('SELECT (SELECT count(*) FROM producer) + (SELECT count(*) FROM hub) AS n');
    return rows[0].n;
  }

  it('refuses queries nested too deep', async () => {
    let inner = 'id';
    for (let i = 0; i < 8; i += 1) inner = `offers { salesSession { ${inner} } }`;
    const deep = `{ salesSession(id: "00000000-0000-0000-0000-000000000000") { ${inner} } }`;
    const response = await t.api.request(deep);
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.message).toMatch(/levels deep; the limit is 12/);
  });

  it('refuses operations that ask for too much at once', async () => {
    // More selections than are counted (10,000): refused, not let through uncounted.
    const aliases = Array.from({ length: 12_000 }, (_, i) => `a${i}: __typename`).join(' ');
    const response = await t.api.request(`{ ${aliases} }`);
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('refuses a body over 1 MB with a JSON error and no stack trace', async () => {
    const before = await counts();
    const { status, body } = await post(t.app.url, JSON.stringify({ query: op.CREATE_PRODUCER, variables: { input: { name: 'x'.repeat(1_100_000) } } }), {
      authorization: `Bearer ${t.api.token}`,
    });
    expect(status).toBe(413);
    expect(body.errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
    expect(JSON.stringify(body)).not.toMatch(/at .*\.js/);
    expect(await counts()).toBe(before);
  });

  it('refuses a body over 1 MB that does not announce its length', async () => {
    const before = await counts();
    const big = JSON.stringify({ query: op.CREATE_PRODUCER, variables: { input: { name: 'x'.repeat(1_100_000) } } });
    // A stream has no content-length: the limit is enforced as the body arrives.
    const body = new ReadableStream({
      start(controller) {
        for (let at = 0; at < big.length; at += 64 * 1024) controller.enqueue(new TextEncoder().encode(big.slice(at, at + 64 * 1024)));
        controller.close();
      },
    });
    const response = await fetch(t.app.url, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.api.token}` }, body, duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('PAYLOAD_TOO_LARGE');
    expect(await counts()).toBe(before);
  });

  it('refuses a compressed body, or one in another charset, with 415 rather than misreading it', async () => {
    const { gzipSync } = await import('node:zlib');
    const response = await fetch(t.app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ query: '{ __typename }' })),
    });
    expect(response.status).toBe(415);
    expect(((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');

    // A body in another charset would be misread as UTF-8: refused the same way; UTF-8 spelt either way is read.
    const latin1 = await fetch(t.app.url, { method: 'POST', headers: { 'content-type': 'application/json; charset=ISO-8859-1' }, body: '{"query":"{ __typename }"}' });
    expect(latin1.status).toBe(415);
    const utf8 = await fetch(t.app.url, { method: 'POST', headers: { 'content-type': 'application/json; charset="UTF-8"' }, body: '{"query":"{ __typename }"}' });
    expect(await utf8.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('does not run an operation posted as a form or as text, as a browser may send cross-site', async () => {
    const before = await counts();
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded']) {
      const response = await fetch(t.app.url, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: `Bearer ${t.api.token}` },
        body: JSON.stringify({ query: op.CREATE_HUB, variables: { input: { name: 'Cross-site' } } }),
      });
      expect(response.status).toBe(400);
    }
    expect(await counts()).toBe(before);
  });

  it('answers a query sent with GET, and refuses a mutation sent that way', async () => {
    const get = (query: string) =>
      fetch(`${t.app.url}?query=${encodeURIComponent(query)}`, { headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${t.api.token}` } });
    const read = await get('{ __typename }');
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({ data: { __typename: 'Query' } });
    // An answer the client already holds is not sent again.
    const etag = read.headers.get('etag')!;
    expect(etag).toMatch(/^W\/"/);
    const cached = await fetch(`${t.app.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${t.api.token}`, 'if-none-match': etag },
    });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    expect(cached.headers.get('etag')).toBe(etag);
    expect(read.headers.get('cache-control')).toBe('private, no-cache');
    // An answer that changed since the client's copy is sent in full.
    const stale = await fetch(`${t.app.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true', authorization: `Bearer ${t.api.token}`, 'if-none-match': 'W/"an-older-answer"' },
    });
    expect(stale.status).toBe(200);
    expect(await stale.json()).toEqual({ data: { __typename: 'Query' } });
    const before = await counts();
    const write = await get(`mutation { createHub(input: { name: "By GET" }) { hub { id } } }`);
    expect(write.status).toBe(405);
    expect(await counts()).toBe(before);
  });

  it('refuses a subscription sent over HTTP, saying it is served over WebSocket', async () => {
    const response = await t.api.request('subscription ($id: ID!) { availabilityChanged(salesSessionId: $id) { __typename } }', {
      id: '00000000-0000-4000-8000-000000000000',
    });
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    expect(response.errors?.[0]?.message).toMatch(/WebSocket/);
    // Also one that graphql-js 16's validation would have thrown on (a root @skip on a variable with no value).
    const conditional = await t.api.request('subscription ($id: ID!, $x: Boolean!) { availabilityChanged(salesSessionId: $id) @skip(if: $x) { id } }', {
      id: '00000000-0000-4000-8000-000000000000', x: true,
    });
    expect([conditional.status, conditional.errors?.[0]?.extensions?.code]).toEqual([400, 'BAD_REQUEST']);
    // A document holding a subscription beside the query it names: refused too (graphql-js 16's
    // validation would throw on the conditional one), and so never kept as a persisted query,
    // whose hash could then name the subscription with no text to read.
    const both = 'query Q { __typename } subscription S($id: ID!, $x: Boolean!) { availabilityChanged(salesSessionId: $id) @skip(if: $x) { __typename } }';
    const extensions = { persistedQuery: { version: 1, sha256Hash: createHash('sha256').update(both).digest('hex') } };
    const variables = { id: '00000000-0000-4000-8000-000000000000', x: true };
    const named = await post(t.app.url, JSON.stringify({ query: both, operationName: 'Q', variables, extensions }), { authorization: `Bearer ${t.api.token}` });
    expect(named.status).toBe(400);
    const byHash = await post(t.app.url, JSON.stringify({ operationName: 'S', variables, extensions }), { authorization: `Bearer ${t.api.token}` });
    expect(byHash.body.errors?.[0]?.extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('refuses batched operations', async () => {
    const before = await counts();
    const one = { query: op.CREATE_HUB, variables: { input: { name: 'Batch hub' } } };
    const { status } = await post(t.app.url, JSON.stringify([one, one]), { authorization: `Bearer ${t.api.token}` });
    expect(status).toBe(400);
    expect(await counts()).toBe(before);
  });

  it('refuses a body that is not UTF-8 rather than storing a replacement character, and reads one with a byte order mark', async () => {
    const before = await counts();
    // "Café" in Latin-1: the 0xE9 byte is not UTF-8. Read leniently it would become "Caf\uFFFD",
    // and two different names would be stored as the same one.
    const text = JSON.stringify({ query: op.CREATE_PRODUCER, variables: { input: { name: 'Caf#' } } });
    const notUtf8 = Buffer.from(text, 'latin1');
    notUtf8[text.indexOf('#')] = 0xe9;
    const refused = await fetch(t.app.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.api.token}` }, body: notUtf8 });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_REQUEST');
    expect(await counts()).toBe(before);

    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"query":"{ __typename }"}')]);
    const read = await fetch(t.app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: withBom });
    expect(await read.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('reads a body sent as thousands of one-byte chunks', async () => {
    // Each chunk is copied into one buffer as it arrives (a million of them, kept as they came,
    // would take hundreds of megabytes for a body under the limit).
    const body = JSON.stringify({ query: `{ __typename ${' '.repeat(20_000)}}` });
    const url = new URL(t.app.url);
    let framed = `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n`;
    for (const byte of body) framed += `1\r\n${byte}\r\n`;
    const answer = await exchange(t.app.url, [`${framed}0\r\n\r\n`]);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('{"data":{"__typename":"Query"}}');
  });

  it('cuts off a client that does not finish sending its request within HTTP_REQUEST_TIMEOUT', async () => {
    const url = new URL(t.app.url);
    // Announces 100 bytes, sends 10, and stops: the connection (and its buffer) must not be held.
    const answer = await exchange(t.app.url, [`POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"query":`], { end: false });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });

  it('with Expect: 100-continue, refuses a body over the limit before it is sent, and asks for one within it', async () => {
    const url = new URL(t.app.url);
    const head = (length: number) =>
      `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n`;
    // Only the headers are sent: the answer must come without the body.
    const refused = await exchange(t.app.url, [head(2_000_000)], { end: false });
    expect(refused).toMatch(/^HTTP\/1\.1 413/);
    expect(refused).not.toContain('100 Continue');

    const body = JSON.stringify({ query: '{ __typename }' });
    const accepted = await exchange(t.app.url, [head(body.length), body], { afterFirstAnswer: true });
    expect(accepted).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200/);
    expect(accepted).toContain('{"data":{"__typename":"Query"}}');

    // HTTP/1.0 has no 100 Continue: such a client sends its body at once and gets only the answer.
    const old = await exchange(t.app.url, [head(body.length).replace('HTTP/1.1', 'HTTP/1.0') + body]);
    expect(old).toMatch(/^HTTP\/1\.1 200/);
    expect(old).not.toContain('100 Continue');
  });

  it('serves a request whose target is in absolute form, as a proxy sends it', async () => {
    const url = new URL(t.app.url);
    const body = JSON.stringify({ query: '{ __typename }' });
    const answer = await exchange(t.app.url, [
      `POST ${url.origin}${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('{"data":{"__typename":"Query"}}');
  });

  it('answers a body that is not JSON with a 400', async () => {
    const { status, body } = await post(t.app.url, '{"query": ', {});
    expect(status).toBe(400);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
  });

  it('allows only the configured browser origins', async () => {
    const preflight = (origin: string) =>
      fetch(t.app.url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    const allowed = await preflight('https://shop.example.org');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example.org');
    expect(allowed.headers.get('access-control-allow-headers')).toBe('authorization,content-type');
    expect(allowed.headers.get('vary')).toMatch(/Origin/);
    const elsewhereAsks = await preflight('https://evil.example.com');
    expect(elsewhereAsks.headers.get('access-control-allow-origin')).toBeNull();
    // Anyone may ask what the endpoint takes; only the CORS answer is kept from other origins.
    expect(elsewhereAsks.headers.get('allow')).toBe('GET, POST, OPTIONS');

    // The request itself says which origin may read the answer, and that the answer depends on it.
    const answer = await fetch(t.app.url, { method: 'POST', headers: { origin: 'https://shop.example.org', 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(answer.headers.get('access-control-allow-origin')).toBe('https://shop.example.org');
    expect(answer.headers.get('vary')).toMatch(/Origin/);
    const elsewhere = await fetch(t.app.url, { method: 'POST', headers: { origin: 'https://evil.example.com', 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets the configured browser origins download the CSV lists with their bearer token, as they call GraphQL', async () => {
    const { createProducer } = await t.api.data<{ createProducer: { producer: { id: string } } }>(
      'mutation { createProducer(input: { name: "CORS Farm" }) { producer { id } } }',
    );
    const path = `/csv/pack-list?producerId=${createProducer.producer.id}&deliveryDay=2026-11-25`;
    const preflight = (origin: string) =>
      fetch(new URL(path, t.app.url), { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } });
    const allowed = await preflight('https://shop.example.org');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example.org');
    expect(allowed.headers.get('access-control-allow-headers')).toBe('authorization');
    expect(allowed.headers.get('allow')).toBe('GET, OPTIONS');
    expect((await preflight('https://evil.example.com')).headers.get('access-control-allow-origin')).toBeNull();

    const download = await fetch(new URL(path, t.app.url), { headers: { origin: 'https://shop.example.org', authorization: `Bearer ${t.api.token}` } });
    expect(download.status).toBe(200);
    expect(download.headers.get('access-control-allow-origin')).toBe('https://shop.example.org');
    // The page may read the file's name.
    expect(download.headers.get('access-control-expose-headers')).toBe('Content-Disposition');
    expect(download.headers.get('vary')).toMatch(/Origin/);
    const elsewhere = await fetch(new URL(path, t.app.url), { headers: { origin: 'https://evil.example.com', authorization: `Bearer ${t.api.token}` } });
    expect(elsewhere.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('opens websocket connections at /graphql as requests are routed there, and at no other path', async () => {
    const base = t.app.url.replace(/^http/, 'ws').replace(/\/graphql$/, '');
    const handshake = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(`${base}${path}`, 'graphql-transport-ws');
        socket.on('open', () => {
          resolve(101);
          socket.close();
        });
        socket.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        socket.on('error', reject);
      });
    expect(await handshake('/graphql')).toBe(101);
    expect(await handshake('/graphql/')).toBe(101);
    expect(await handshake('/GraphQL?client=shop')).toBe(101);
    expect(await handshake('/health')).toBe(404);

    // Refused, the connection is closed by the server (exchange() returns once it is), and a
    // client that resets it instead of reading the answer leaves the server running.
    const url = new URL(t.app.url);
    const upgrade = `GET /health HTTP/1.1\r\nhost: ${url.host}\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`;
    expect(await exchange(t.app.url, [upgrade], { end: false })).toMatch(/^HTTP\/1\.1 404/);
    const { connect } = await import('node:net');
    await Promise.all(Array.from({ length: 10 }, () => new Promise<void>((resolve) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(upgrade);
        socket.resetAndDestroy();
      });
      socket.on('close', () => resolve()).on('error', () => resolve());
    })));
    expect(await t.api.request('{ __typename }')).toMatchObject({ data: { __typename: 'Query' } });
  });

  describe('tokens', () => {
    const cases: [string, () => Promise<string>, RegExp][] = [
      ['not a bearer token', async () => 'Basic dXNlcjpwYXNz', /must be "Bearer <token>"/],
      ['a token signed with another secret', async () => `Bearer ${await signToken('another-secret-that-is-long-enough-xx', { role: 'admin' })}`, /signature does not verify/],
      ['an expired token', async () => `Bearer ${await signToken(TEST_JWT_SECRET, { role: 'admin' }, { expiresIn: '-1m' })}`, /expired/],
      ['a token with an unknown role', async () => `Bearer ${await new SignJWT({ role: 'root' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(TEST_JWT_SECRET))}`, /"role" must be/],
      ['a hub token without a hub', async () => `Bearer ${await new SignJWT({ role: 'hub' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode(TEST_JWT_SECRET))}`, /"hubId" claim/],
      ['garbage', async () => 'Bearer not.a.jwt', /not a valid token/],
      ['a token that never expires', async () => `Bearer ${await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(TEST_JWT_SECRET))}`, /"exp"/],
    ];

    it('stops accepting a token once it expires, though it verified before', async () => {
      // Three to four seconds of life: enough for a slow machine's first answer, or socket's ack.
      const token = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(Math.floor(Date.now() / 1000) + 4).sign(new TextEncoder().encode(TEST_JWT_SECRET));
      const ask = () => post(t.app.url, JSON.stringify({ query: '{ __typename }' }), { authorization: `Bearer ${token}` });
      expect((await ask()).status).toBe(200);
      // Verified tokens are remembered for speed, but never past their expiry.
      const refused = await waitFor('the token to expire', async () => {
        const { status, body } = await ask();
        return status === 401 ? body : undefined;
      }, 10_000);
      expect(refused.errors?.[0]?.message).toMatch(/expired/);
    });

    it.each(cases)('refuses %s with 401 UNAUTHENTICATED', async (_name, header, message) => {
      const before = await counts();
      const { status, body } = await post(t.app.url, JSON.stringify({ query: op.CREATE_HUB, variables: { input: { name: 'Sneaky' } } }), { authorization: await header() });
      expect(status).toBe(401);
      expect(body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(body.errors?.[0]?.message).toMatch(message);
      expect(await counts()).toBe(before);
    });

    it('ends a websocket connection when its token expires (4403), as HTTP then refuses the token', async () => {
      const token = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(Math.floor(Date.now() / 1000) + 4).sign(new TextEncoder().encode(TEST_JWT_SECRET));
      const closed = await new Promise<{ code: number; acked: boolean }>((resolve) => {
        let acked = false;
        const socket = new WebSocket(t.app.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
        socket.on('message', (data) => {
          if (JSON.parse(data.toString()).type === 'connection_ack') acked = true;
        });
        socket.on('close', (code) => resolve({ code, acked }));
      });
      expect(closed).toEqual({ code: 4403, acked: true });
    });

    it('names the Bearer scheme on a 401, over GraphQL and for the CSV downloads (RFC 6750)', async () => {
      const graphql = await fetch(t.app.url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer not.a.jwt' }, body: '{"query":"{ __typename }"}' });
      expect(graphql.status).toBe(401);
      expect(graphql.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
      const csv = await fetch(new URL('/csv/pick-list?deliveryDay=2026-11-25', t.app.url));
      expect(csv.status).toBe(401);
      expect(csv.headers.get('www-authenticate')).toBe('Bearer');
    });

    it('refuses a websocket connection with a bad token (4403), or with one that is not text, rather than taking it as anonymous; an empty one is none', async () => {
      const closeCode = (authorization: unknown) => new Promise<number>((resolve) => {
        const socket = new WebSocket(t.app.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
        socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } })));
        socket.on('message', (data) => {
          if (JSON.parse(data.toString()).type === 'connection_ack') socket.close(1000);
        });
        socket.on('close', (code) => resolve(code));
      });
      const good = `Bearer ${await signToken(TEST_JWT_SECRET, { role: 'admin' })}`;
      const answers = [];
      for (const authorization of ['Bearer not.a.jwt', [good], { bearer: good }, 42, '', null]) answers.push(await closeCode(authorization));
      // None, or an empty one, is anonymous, as over HTTP: acknowledged (the test then closes with 1000).
      expect(answers).toEqual([4403, 4403, 4403, 4403, 1000, 1000]);
    });
  });
});

describe('request bodies arriving at once', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.stop());

  it('hold at most 64 MB together: past that a body is answered 503, retry shortly, and the budget comes back', async () => {
    const { connect } = await import('node:net');
    const url = new URL(t.app.url);
    const part = Buffer.alloc(1_000_000, 0x20);
    // Each announces 1 MB and sends all but the end of it, holding a megabyte of the server's memory.
    const sockets = Array.from({ length: 70 }, () => {
      const socket = connect(Number(url.port), url.hostname);
      socket.on('error', () => undefined);
      const answered = new Promise<string>((resolve) => {
        let received = '';
        socket.on('data', (data) => (received += data.toString())).on('close', () => resolve(received));
      });
      socket.write(`POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\ncontent-length: ${1024 * 1024}\r\n\r\n`);
      socket.write(part);
      return { socket, answered };
    });
    const busy = await waitFor('the bodies past the budget to be refused', async () => {
      const settled = await Promise.all(sockets.map(({ answered }) => Promise.race([answered, Promise.resolve(undefined)])));
      const refused = settled.filter((answer) => answer?.startsWith('HTTP/1.1 503'));
      return refused.length >= 6 ? refused : undefined;
    });
    expect(busy[0]).toContain('"code":"SERVICE_UNAVAILABLE"');
    expect(busy[0]).toMatch(/retry-after: 1/i);
    for (const { socket } of sockets) socket.destroy();
    // What they held is given back: the next request is read as usual.
    await waitFor('a request to be served again', async () => ((await t.api.request('{ __typename }')).status === 200 ? true : undefined));
  });
});

describe('introspection', () => {
  it('can be switched off', async () => {
    const t = await startTestApp({ env: { INTROSPECTION: 'false' } });
    try {
      const response = await t.api.request('{ __schema { queryType { name } } }');
      expect(response.status).toBe(400);
      expect(response.errors?.[0]?.message).toMatch(/introspection/i);
      expect((await t.api.request('{ __typename }')).data).toEqual({ __typename: 'Query' });
    } finally {
      await t.stop();
    }
  });
});

describe('tokens from an identity provider (JWKS)', () => {
  let jwks: Server;
  let t: TestApp;
  let privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    privateKey = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-key-1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    t = await startTestApp({ env: { JWKS_URL: url, JWT_ISSUER: 'https://idp.example.org', JWT_AUDIENCE: 'foodhub' } });
  });
  afterAll(async () => {
    await t.stop();
    await new Promise((resolve) => jwks.close(resolve));
  });

  it('accepts an ES256 token the provider signed, with the configured issuer and audience', async () => {
    const sign = (issuer: string) =>
      new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'ES256', kid: 'idp-key-1' }).setIssuer(issuer).setAudience('foodhub').setExpirationTime('5m').sign(privateKey);
    const good = new GraphQLClient(t.app.url, await sign('https://idp.example.org'));
    const created = await good.request<{ createHub: { userErrors: unknown[] } }>(op.CREATE_HUB, { input: { name: 'IdP hub' } });
    expect(created.data?.createHub.userErrors).toEqual([]);

    const wrongIssuer = new GraphQLClient(t.app.url, await sign('https://elsewhere.example.org'));
    expect((await wrongIssuer.request(op.CREATE_HUB, { input: { name: 'x' } })).status).toBe(401);
  });
});

describe('an identity provider that is down', () => {
  let jwks: Server;
  let t: TestApp;
  let up = false;
  const logs = capturedLogs('warn');
  let token: string;
  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'idp-key-1', alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => (up
      ? res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }))
      : res.writeHead(503).end()));
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
    t = await startTestApp({ env: { JWKS_URL: url, JWT_AUDIENCE: 'foodhub' }, logger: logs.logger });
    token = await new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'ES256', kid: 'idp-key-1' }).setAudience('foodhub').setExpirationTime('5m').sign(pair.privateKey);
  });
  afterAll(async () => {
    await t.stop();
    await new Promise((resolve) => jwks.close(resolve));
  });

  it('tells clients with a good token to retry (503), not that their token is bad, and takes it once the keys come back', async () => {
    const client = new GraphQLClient(t.app.url, token);
    const down = await client.request('{ __typename }');
    expect(down.status).toBe(503);
    expect(down.errors).toEqual([expect.objectContaining({ extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true } })]);
    const csv = await fetch(new URL('/csv/pick-list?producerId=x&deliveryDay=2026-11-25', t.app.url), { headers: { authorization: `Bearer ${token}` } });
    expect(csv.status).toBe(503);
    expect(await csv.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    // A socket is closed with 1013 (try again later), which graphql-ws clients retry; 4403 they do not.
    const socket = new WebSocket(t.app.url.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    const closed = await new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    expect(closed).toBe(1013);
    // The operator reads why: the provider's own answer, on every path.
    const why = logs.lines.filter((l) => l.msg === 'service unavailable').map((l) => JSON.stringify(l.err));
    expect(why).toHaveLength(3);
    for (const line of why) expect(line).toContain('Expected 200 OK');

    up = true;
    expect((await client.request<{ __typename: string }>('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });
});
