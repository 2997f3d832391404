import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import querystring from 'node:querystring';
import { ApolloServer, type ApolloServerPlugin, HeaderMap } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { MikroORM } from '@mikro-orm/postgresql';
import express, { type NextFunction, type Request, type Response } from 'express';
import { GraphQLError, type GraphQLSchema, NoSchemaIntrospectionCustomRule } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Duration } from 'luxon';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import { SocketTokenCheck } from './auth/socket-token.js';
import { AuthenticationError, KeysUnavailableError, tokenExpiresAt, type TokenVerifier } from './auth/tokens.js';
import type { EventHub } from './events/event-hub.js';
import { createContext, type GraphQLContext } from './graphql/context.js';
import { csvRoutes } from './modules/fulfilment/csv-routes.js';
import { createErrorFormatter } from './graphql/format-error.js';
import { corsPolicy, graphqlEndpoint, sendError, SUBSCRIPTIONS_OVER_SOCKETS } from './graphql/http-endpoint.js';
import { allChecks, costCheck, depthLimit, storableTextCheck, requestCheckPlugin } from './graphql/limits.js';
import { sharedReads } from './graphql/shared-reads.js';
import { formatSocketErrors, formatSocketResult, socketOperations } from './graphql/socket-operations.js';
import type { Services } from './services.js';
import type { Clock } from './shared/clock.js';
import type { Actor } from './shared/request-context.js';
import { runAt } from './shared/timers.js';

const MAX_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;
/**
 * Live subscriptions one socket may hold at once. Each costs memory and a match against every
 * event for as long as it lives, and the per-operation limits (depth, cost, size) do not bound
 * how many operations a socket keeps: without this, one anonymous client could open thousands.
 */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
/** How long a shutdown waits for requests in flight before closing their connections anyway. */
const SHUTDOWN_GRACE_MS = 20_000;
const MAX_BODY_BYTES = 1024 * 1024;
/** Bodies being read at once hold at most this together: 64 of the largest, thousands of usual ones. */
const MAX_BUFFERED_BODY_BYTES = 64 * MAX_BODY_BYTES;

/**
 * The route a request target names, as Express matched it: any letter case, a trailing slash
 * ignored, the query left out. The absolute form (`POST http://host/graphql`, as a proxy may
 * send it) names the same route as `/graphql`.
 */
export function pathOf(target: string | undefined): string {
  let path = target ?? '';
  if (!path.startsWith('/')) {
    try {
      path = new URL(path).pathname;
    } catch {
      return '';
    }
  }
  const query = path.indexOf('?');
  if (query !== -1) path = path.slice(0, query);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path.toLowerCase();
}

export interface HttpServerDeps {
  schema: GraphQLSchema;
  orm: MikroORM;
  services: Services;
  events: EventHub;
  clock: Clock;
  logger: Logger;
  verifyToken: TokenVerifier;
  limits: { introspection: boolean; maxQueryDepth: number; maxQueryCost: number; corsOrigins: readonly string[]; httpRequestTimeout: Duration };
}

export interface HttpServer {
  /** Starts listening; resolves with the port (useful when asked for port 0). */
  listen(port: number): Promise<number>;
  /** Turns new requests away, waits for those in flight to be answered, then closes connections and Apollo. */
  close(): Promise<void>;
}

/**
 * A subscription run over HTTP (by a persisted query's hash, which the endpoint cannot read) is
 * refused as the endpoint refuses one sent as text (holdsSubscription()).
 */
const subscriptionsOverSocketsOnly: ApolloServerPlugin<GraphQLContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation === 'subscription') {
          throw new GraphQLError(SUBSCRIPTIONS_OVER_SOCKETS, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
        }
      },
    };
  },
};

/**
 * GraphQL over HTTP and graphql-ws subscriptions, both at /graphql, and a health check at
 * /health, on one port. Nothing listens until listen().
 */
export async function createHttpServer(deps: HttpServerDeps): Promise<HttpServer> {
  const { limits } = deps;
  // A client has HTTP_REQUEST_TIMEOUT to send its whole request (Node's own default is five
  // minutes): a body sent slowly, or never finished, does not hold its connection and its buffer
  // for long. Node checks the deadlines every `connectionsCheckingInterval`.
  const requestTimeout = limits.httpRequestTimeout.toMillis();
  const httpServer: Server = createServer({
    requestTimeout,
    headersTimeout: requestTimeout,
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(requestTimeout / 4))),
  });
  const newContext = (actor: Actor) =>
    createContext({ actor, em: deps.orm.em, services: deps.services, events: deps.events, clock: deps.clock });
  const validationRules = [depthLimit(limits.maxQueryDepth), ...(limits.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  // One request check and one error formatter for both transports: neither is a way around the other's rules.
  const checkRequest = allChecks(storableTextCheck(), costCheck(deps.schema, limits.maxQueryCost));
  const formatError = createErrorFormatter(deps.logger);
  const socketOperation = socketOperations({ schema: deps.schema, validationRules, checkRequest });

  // Upgrades are routed below, by the same rule as requests (see pathOf).
  const wsServer = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  const subscriptions = useServer<Record<string, unknown> | undefined, { actor?: Actor; tokenCheck?: SocketTokenCheck; cancelExpiry?: () => void }>(
    {
      schema: deps.schema,
      // Authenticated on connect, from connectionParams.authorization; a bad token is refused
      // (4403), none (or an empty one, as over HTTP) is anonymous. The connection ends when its
      // token expires, as an HTTP request with it would then be refused: a client reconnects with a
      // fresh token (and `after:` its last event). It is checked again while it lives (SocketTokenCheck).
      onConnect: async (ctx) => {
        try {
          const given = ctx.connectionParams?.authorization ?? undefined;
          // A credential that is not a header's text does not verify: refused, never anonymous.
          if (given !== undefined && typeof given !== 'string') return false;
          const authorization = given || undefined;
          // Verified afresh, as its checks will be (SocketTokenCheck): not from a verification
          // remembered for half a minute, with a key set as old, which would stretch the minute.
          ctx.extra.actor = await deps.verifyToken(authorization, { fresh: true });
          // Closed while its token was checked (a slow identity provider): onClose has run, and
          // nothing would cancel an expiry armed now, or stop a check.
          if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
          if (authorization) {
            ctx.extra.tokenCheck = new SocketTokenCheck(deps.verifyToken, authorization, () =>
              ctx.extra.socket.close(4403, 'token no longer valid: connect again with a fresh token'));
          }
          const expiresAt = authorization === undefined ? undefined : tokenExpiresAt(authorization);
          if (expiresAt !== undefined) {
            // However far away: a token valid for months is not cut off after a timer's 24.8 days.
            ctx.extra.cancelExpiry = runAt(expiresAt, () => ctx.extra.socket.close(4403, 'token expired: connect again with a fresh token'));
          }
          return true;
        } catch (error) {
          // Not the token's fault: 1013 (try again later), which clients retry, not 4403.
          if (error instanceof KeysUnavailableError) {
            deps.logger.warn({ err: error }, 'service unavailable');
            ctx.extra.socket.close(1013, 'identity provider unavailable: connect again shortly');
          }
          return false;
        }
      },
      onClose: (ctx) => {
        ctx.extra.cancelExpiry?.();
        ctx.extra.tokenCheck?.stop();
      },
      context: (ctx) => newContext(ctx.extra.actor ?? { kind: 'anonymous' }),
      onSubscribe: (ctx, _id, payload) => {
        // ctx.subscriptions already counts this one.
        if (Object.keys(ctx.subscriptions).length > MAX_SUBSCRIPTIONS_PER_SOCKET) {
          return [new GraphQLError(`a socket may hold ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions at once: complete one first, or open another socket`, {
            extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
          })];
        }
        return socketOperation(payload);
      },
      onNext: async ({ extra }, _id, _payload, _args, result) => {
        // Not to a socket whose token no longer verifies (SocketTokenCheck): closing, it is sent nothing.
        if (extra.tokenCheck && !(await extra.tokenCheck.allows())) return undefined;
        // A client that does not read its socket makes the server buffer for it: cut it off with a
        // reason it can act on instead of holding its backlog in memory.
        if (extra.socket.bufferedAmount > MAX_SOCKET_BUFFER_BYTES) {
          extra.socket.close(4008, 'subscriber too slow: subscribe again with after: <last event id>');
        }
        return formatSocketResult(formatError, result);
      },
      // Refusals from onSubscribe, and a stream that ended in error (SUBSCRIBER_TOO_SLOW, the database).
      onError: (_ctx, _id, _payload, errors) => formatSocketErrors(formatError, errors),
    },
    wsServer,
  );

  const shared = sharedReads(deps.clock, deps.orm.em);
  const apollo = new ApolloServer<GraphQLContext>({
    schema: deps.schema,
    stringifyResult: shared.stringifyResult,
    formatError,
    includeStacktraceInErrorResponses: false,
    introspection: limits.introspection,
    validationRules,
    // Batched requests (a JSON array of operations) are refused: one request, one operation.
    allowBatchedHttpRequests: false,
    // The process owns SIGTERM/SIGINT (main.ts): requests drain first, then the scheduler and the
    // database stop, in that order. Apollo's own handler would race it.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // Cache hints are not used; without this Apollo wraps every field resolver to collect them.
      ApolloServerPluginCacheControlDisabled(),
      requestCheckPlugin(checkRequest),
      subscriptionsOverSocketsOnly,
      shared.plugin,
      {
        // Subscribers are told the server is going away (1001) rather than just losing the socket.
        async serverWillStart() {
          return { drainServer: async () => subscriptions.dispose() };
        },
      },
    ],
  });
  await apollo.start();

  // Graceful shutdown: once stopping, new requests are turned away (503, retryable) and the close
  // waits until every request already taken has been answered.
  let stopping = false;
  let inFlight = 0;
  const graphql = graphqlEndpoint({
    apollo,
    context: async (req) => {
      try {
        return newContext(await deps.verifyToken(req.headers.authorization));
      } catch (error) {
        if (error instanceof KeysUnavailableError) {
          // The formatter logs the original error, with jose's reason as its cause.
          throw new GraphQLError(error.message, { originalError: error, extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true, http: { status: 503 } } });
        }
        if (!(error instanceof AuthenticationError)) throw error;
        // RFC 6750: a 401 names the scheme, and why the token was refused.
        const headers = new HeaderMap([['www-authenticate', 'Bearer error="invalid_token"']]);
        throw new GraphQLError(error.message, { extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers } } });
      }
    },
    corsOrigins: limits.corsOrigins,
    maxBodyBytes: MAX_BODY_BYTES,
    maxBufferedBodyBytes: MAX_BUFFERED_BODY_BYTES,
    logger: deps.logger,
  });
  // Everything but GraphQL itself: the health check and the CSV downloads.
  const others = express();
  others.disable('x-powered-by');
  // Every pair of the query string read: Express's parser stops at 1000 and drops the rest, so a
  // parameter after 999 others (empty ones count) would read as absent. The request line's size
  // limit bounds them.
  others.set('query parser', (query: string) => querystring.parse(query, undefined, undefined, { maxKeys: 0 }));
  others.get('/health', async (_req, res) => {
    const up = await deps.orm.isConnected().catch(() => false);
    res.status(up ? 200 : 503).json({ status: up ? 'ok' : 'database unavailable' });
  });
  // A browser sends the bearer token the downloads need only once a preflight allowed its origin.
  const csvCors = corsPolicy(limits.corsOrigins, ['GET']);
  others.use('/csv', (req, res, next) => {
    if (csvCors(req, res)) return;
    // So that a page may read the file's name.
    if (res.hasHeader('access-control-allow-origin')) res.setHeader('access-control-expose-headers', 'Content-Disposition');
    next();
  });
  others.use(csvRoutes({ verifyToken: (authorization) => deps.verifyToken(authorization), newContext, logger: deps.logger }));
  others.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    deps.logger.error({ err: error }, 'unexpected HTTP error');
    sendError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
  });

  // expectsContinue: an HTTP/1.1 client sent `Expect: 100-continue` and waits to be told to send its body.
  const route = (req: IncomingMessage, res: ServerResponse, expectsContinue = false) => {
    if (stopping) {
      res.setHeader('connection', 'close');
      return sendError(res, 503, 'SERVICE_UNAVAILABLE', 'the server is shutting down; retry the request', { retryable: true });
    }
    inFlight += 1;
    res.on('close', () => (inFlight -= 1));
    if (pathOf(req.url) === '/graphql') return void graphql(req, res, expectsContinue);
    // The other routes read no body worth refusing before it is sent.
    if (expectsContinue) res.writeContinue();
    others(req, res);
  };
  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => route(req, res));
  // `Expect: 100-continue`: Node would say "continue" before anyone looked at the request. The
  // GraphQL endpoint says it only once the headers are acceptable, so a client announcing a body
  // over the limit gets its 413 before sending it.
  httpServer.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => route(req, res, true));
  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (stopping || pathOf(req.url) !== '/graphql') {
      // Node hands an upgrade's socket over bare: no error listener (a client resetting it would
      // throw an uncaught ECONNRESET) and no timeout. It is closed as soon as the answer is out.
      socket.on('error', () => socket.destroy());
      socket.once('finish', () => socket.destroy());
      const status = stopping ? '503 Service Unavailable' : '404 Not Found';
      return void socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    }
    wsServer.handleUpgrade(req, socket, head, (ws) => wsServer.emit('connection', ws, req));
  });

  return {
    listen: (port) =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, () => resolve((httpServer.address() as AddressInfo).port));
      }),
    close: async () => {
      stopping = true;
      for (let waited = 0; inFlight > 0 && waited < SHUTDOWN_GRACE_MS; waited += 10) await sleep(10);
      await apollo.stop();
    },
  };
}
