import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ApolloServer, type BaseContext, HeaderMap } from '@apollo/server';
import { Kind, OperationTypeNode, parse } from 'graphql';
import type { Logger } from 'pino';

export interface GraphQLEndpointOptions<TContext extends BaseContext> {
  apollo: ApolloServer<TContext>;
  /** The request's context; a GraphQLError it throws is answered by Apollo with its http status. */
  context: (req: IncomingMessage) => Promise<TContext>;
  /** Browser origins allowed to call the API (CORS); none allowed when empty. */
  corsOrigins: readonly string[];
  maxBodyBytes: number;
  /** What all the request bodies being read at once may hold together. */
  maxBufferedBodyBytes: number;
  logger: Logger;
}

/** What a failed request gets back: the GraphQL error shape, a stable code, never a stack trace. */
export function sendError(res: ServerResponse, status: number, code: string, message: string, extensions: Record<string, unknown> = {}): void {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code, ...extensions } }] }));
}

/**
 * GraphQL over HTTP (GET and POST at /graphql), handed straight from node:http to Apollo. Every
 * checkout, payment and catalogue read comes through here, and the general-purpose stack it
 * replaces (Express's router, its JSON body parser and the cors middleware) cost as much CPU per
 * request as Apollo itself (bench/RESULTS.md); what this endpoint needs of them is the few lines
 * below: a bounded JSON body and an origin allow-list.
 */
export function graphqlEndpoint<TContext extends BaseContext>(options: GraphQLEndpointOptions<TContext>) {
  const { apollo, context, maxBodyBytes, logger } = options;
  // Bodies arriving slowly each hold up to maxBodyBytes until HTTP_REQUEST_TIMEOUT: together they
  // may hold at most this much, and a body that would pass it is answered 503 (retry shortly).
  const budget = new BodyBudget(options.maxBufferedBodyBytes);
  const cors = corsPolicy(options.corsOrigins, ['GET', 'POST']);

  /** expectsContinue: the client sent `Expect: 100-continue` (HTTP/1.1) and waits to be told to send its body. */
  return async (req: IncomingMessage, res: ServerResponse, expectsContinue = false): Promise<void> => {
    const method = req.method ?? 'GET';
    if (cors(req, res)) return;

    let body: unknown;
    if (method === 'POST') {
      const unreadable = unreadableBody(req);
      if (unreadable) {
        // Refused by its headers, so the body is not read: close the connection instead of draining it.
        res.setHeader('connection', 'close');
        return sendError(res, 415, 'UNSUPPORTED_MEDIA_TYPE', unreadable);
      }
      if (Number(req.headers['content-length']) > maxBodyBytes) return tooLarge(res, maxBodyBytes);
      // Its headers are acceptable: a client waiting to be told may send the body.
      if (expectsContinue) res.writeContinue();
      const read = await readBody(req, maxBodyBytes, budget);
      if (read === TOO_LARGE) return tooLarge(res, maxBodyBytes);
      if (read === ABORTED) return;
      if (read === BUSY) {
        res.setHeader('connection', 'close');
        res.setHeader('retry-after', '1');
        return sendError(res, 503, 'SERVICE_UNAVAILABLE', 'too many request bodies are arriving at once; retry shortly', { retryable: true });
      }
      if (read === NOT_UTF8) return sendError(res, 400, 'BAD_REQUEST', 'the request body is not valid UTF-8');
      // Only a JSON body is parsed: a form or text/plain post is one a browser sends cross-site
      // without asking. Apollo's CSRF prevention refuses those by their headers; leaving their body
      // unparsed means nothing in it could run even if that check were switched off.
      if (isJson(req.headers['content-type'])) {
        try {
          body = read.length === 0 ? {} : JSON.parse(read);
        } catch {
          return sendError(res, 400, 'BAD_REQUEST', 'the request body is not valid JSON');
        }
      }
    }

    const url = req.url ?? '';
    const query = url.indexOf('?');
    const search = query === -1 ? '' : url.slice(query);
    if (holdsSubscription(method === 'GET' ? Object.fromEntries(new URLSearchParams(search)) : body)) {
      return sendError(res, 400, 'BAD_REQUEST', SUBSCRIPTIONS_OVER_SOCKETS);
    }

    try {
      const headers = new HeaderMap();
      for (const [key, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
      }
      const response = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method, headers, search, body },
        context: () => context(req),
      });
      for (const [key, value] of response.headers) res.setHeader(key, value);
      res.statusCode = response.status ?? 200;
      if (response.body.kind === 'complete') {
        if (method === 'GET' && res.statusCode === 200) return answerGet(req, res, response.body.string);
        return void res.end(response.body.string);
      }
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    } catch (error) {
      logger.error({ err: error }, 'unexpected HTTP error');
      sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
    }
  };
}

export const SUBSCRIPTIONS_OVER_SOCKETS = 'subscriptions are served over WebSocket (graphql-ws) at /graphql, not over HTTP';

/**
 * Whether a request's document holds a subscription. Over HTTP one would run its field's resolver
 * once, with no event to resolve, so it is refused, saying where subscriptions are served; and
 * before Apollo, whichever operation the request names, because graphql-js 16's validation throws
 * on some (a root field @skip on a variable), which Apollo answers as an internal error. A
 * document refused here is never kept as a persisted query either. Only a text with the word
 * `subscription` is parsed twice.
 */
function holdsSubscription(request: unknown): boolean {
  const { query } = (request ?? {}) as { query?: unknown };
  if (typeof query !== 'string' || !query.includes('subscription')) return false;
  try {
    return parse(query).definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === OperationTypeNode.SUBSCRIPTION);
  } catch {
    // Not GraphQL: Apollo answers it.
    return false;
  }
}

/**
 * A query sent with GET (a storefront's page, a CDN in front of it) gets an ETag, and 304 Not
 * Modified when the client already holds that answer, as Express gave it. The query still runs:
 * the tag says the answer is the same, not that nothing changed in between.
 */
function answerGet(req: IncomingMessage, res: ServerResponse, body: string): void {
  const tag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  res.setHeader('etag', `W/${tag}`);
  // Each caller's own answer: a shared cache keeps none, and a browser asks again each time.
  res.setHeader('cache-control', 'private, no-cache');
  res.appendHeader('vary', 'Authorization');
  // Weak comparison (RFC 9110): W/"x" and "x" are the same answer.
  const held = req.headers['if-none-match'];
  if (held && held.split(',').some((candidate) => ['*', tag].includes(candidate.trim().replace(/^W\//, '')))) {
    res.statusCode = 304;
    res.removeHeader('content-type');
    res.removeHeader('content-length');
    return void res.end();
  }
  res.end(body);
}

/** The body is not read (or not read further): the connection is closed instead of drained. */
function tooLarge(res: ServerResponse, maxBodyBytes: number): void {
  res.setHeader('connection', 'close');
  sendError(res, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${maxBodyBytes / 1024 / 1024} MB`);
}

/**
 * CORS for browser origins allowed to call the server (CORS_ORIGINS): sets an allowed origin's
 * headers on every answer, and answers a preflight (OPTIONS) itself, returning true then. Every
 * route a browser calls with a bearer token needs it (GraphQL, the CSV downloads): the token's
 * header makes the browser ask first.
 */
export function corsPolicy(origins: readonly string[], methods: readonly string[]) {
  const allowed = new Set(origins);
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const origin = req.headers.origin;
    if (allowed.size > 0) {
      // The answer depends on the origin: caches must not hand one origin's answer to another.
      res.setHeader('vary', 'Origin');
      if (origin !== undefined && allowed.has(origin)) res.setHeader('access-control-allow-origin', origin);
    }
    if (req.method !== 'OPTIONS') return false;
    preflight(req, res, methods);
    return true;
  };
}

/** A browser asking whether it may send the request: the origin header set before is the answer. */
function preflight(req: IncomingMessage, res: ServerResponse, methods: readonly string[]): void {
  // Any client may ask what the endpoint takes (RFC 9110); only an allowed origin gets the CORS answer.
  res.setHeader('allow', [...methods, 'OPTIONS'].join(', '));
  res.setHeader('access-control-allow-methods', methods.join(', '));
  const asked = req.headers['access-control-request-headers'];
  if (asked) res.setHeader('access-control-allow-headers', asked);
  res.setHeader('access-control-max-age', '600');
  res.appendHeader('vary', 'Access-Control-Request-Headers');
  res.writeHead(204, { 'content-length': '0' }).end();
}

/** Why a body cannot be read as the UTF-8 text it is taken to be (compressed, another charset), if so. */
function unreadableBody(req: IncomingMessage): string | undefined {
  const encoding = req.headers['content-encoding'];
  if (encoding && encoding.toLowerCase() !== 'identity') return `request bodies are read uncompressed; "${encoding}" is not supported`;
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') return `request bodies are read as UTF-8; charset "${charset}" is not supported`;
  return undefined;
}

function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

const TOO_LARGE = Symbol('too large');
const ABORTED = Symbol('aborted');
const NOT_UTF8 = Symbol('not UTF-8');
const BUSY = Symbol('busy');
type BodyRead = string | typeof TOO_LARGE | typeof ABORTED | typeof NOT_UTF8 | typeof BUSY;

/** Decodes strictly: a byte that is not UTF-8 refuses the body rather than becoming U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes held by request bodies being read, across all requests, against a limit. */
class BodyBudget {
  private held = 0;
  constructor(private readonly limit: number) {}
  take(bytes: number): boolean {
    if (this.held + bytes > this.limit) return false;
    this.held += bytes;
    return true;
  }
  give(bytes: number): void {
    this.held -= bytes;
  }
}

/**
 * The body as text, TOO_LARGE as soon as it passes the limit as it arrives,
 * NOT_UTF8, or BUSY when the bodies being read together would pass the budget. Each chunk is
 * copied into one buffer as it arrives and then dropped: a body sent as a million one-byte chunks
 * would otherwise be kept as a million Buffer objects, hundreds of megabytes for a body under the
 * limit. The buffer grows with what arrived, not with what was announced, so a client announcing a
 * megabyte and sending nothing holds nothing.
 */
function readBody(req: IncomingMessage, limit: number, budget: BodyBudget): Promise<BodyRead> {
  const announced = Number(req.headers['content-length']);
  return new Promise((resolve) => {
    // A usual body (a few hundred bytes, announced) gets a buffer of its size at once.
    const initial = announced > 0 ? Math.min(announced, 16 * 1024) : 16 * 1024;
    let buffer = Buffer.alloc(0);
    let size = 0;
    const done = (result: BodyRead) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onError);
      budget.give(buffer.length);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      if (size + chunk.length > limit) {
        req.pause();
        return done(TOO_LARGE);
      }
      if (size + chunk.length > buffer.length) {
        const length = Math.min(limit, Math.max(initial, buffer.length * 2, size + chunk.length));
        if (!budget.take(length - buffer.length)) {
          req.pause();
          return done(BUSY);
        }
        const grown = Buffer.allocUnsafe(length);
        buffer.copy(grown, 0, 0, size);
        buffer = grown;
      }
      size += chunk.copy(buffer, size);
    };
    const onEnd = () => {
      let text: string;
      try {
        // A leading byte order mark is dropped, as RFC 8259 lets a parser do.
        text = utf8.decode(buffer.subarray(0, size));
      } catch {
        return done(NOT_UTF8);
      }
      done(text);
    };
    const onError = () => done(ABORTED);
    // 'close' before 'end': the client went away mid-body (Node 20 also emits 'error' then).
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onError);
  });
}
