import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import type { MikroORM } from '@mikro-orm/postgresql';
import express from 'express';
import type { GraphQLSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { EventHub } from './events/event-hub.js';
import { createContext, type GraphQLContext } from './graphql/context.js';
import { createErrorFormatter } from './graphql/format-error.js';
import type { Services } from './services.js';
import type { Clock } from './shared/clock.js';

const MAX_SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

export interface HttpServerDeps {
  schema: GraphQLSchema;
  orm: MikroORM;
  services: Services;
  events: EventHub;
  clock: Clock;
  logger: Logger;
  production: boolean;
}

export interface HttpServer {
  /** Starts listening; resolves with the port (useful when asked for port 0). */
  listen(port: number): Promise<number>;
  /** Stops taking connections, lets in-flight requests finish, then stops Apollo. */
  close(): Promise<void>;
}

/**
 * GraphQL over HTTP and graphql-ws subscriptions, both at /graphql, and a health check at
 * /health, on one port. Nothing listens until listen().
 */
export async function createHttpServer(deps: HttpServerDeps): Promise<HttpServer> {
  const httpServer: Server = createServer();
  const newContext = () => createContext({ em: deps.orm.em, services: deps.services, events: deps.events, clock: deps.clock });

  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
  const subscriptions = useServer(
    {
      schema: deps.schema,
      context: newContext,
      onNext: ({ extra }) => {
        // A client that does not read its socket makes the server buffer for it: cut it off with a
        // reason it can act on instead of holding its backlog in memory.
        if (extra.socket.bufferedAmount > MAX_SOCKET_BUFFER_BYTES) {
          extra.socket.close(4008, 'subscriber too slow: subscribe again with after: <last event id>');
        }
      },
    },
    wsServer,
  );
  const apollo = new ApolloServer<GraphQLContext>({
    schema: deps.schema,
    formatError: createErrorFormatter(deps.logger),
    includeStacktraceInErrorResponses: false,
    introspection: true,
    // The process owns SIGTERM/SIGINT (main.ts): requests drain first, then the scheduler and the
    // database stop, in that order. Apollo's own handler would race it.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      {
        // Subscribers are told the server is going away (1001) rather than just losing the socket.
        async serverWillStart() {
          return { drainServer: async () => subscriptions.dispose() };
        },
      },
    ],
  });
  await apollo.start();

  const app = express();
  app.disable('x-powered-by');
  app.get('/health', async (_req, res) => {
    const up = await deps.orm.isConnected().catch(() => false);
    res.status(up ? 200 : 503).json({ status: up ? 'ok' : 'database unavailable' });
  });
  app.use(
    '/graphql',
    express.json({ limit: '1mb' }),
    expressMiddleware(apollo, {
      context: async () => newContext(),
    }),
  );
  httpServer.on('request', app);

  return {
    listen: (port) =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, () => resolve((httpServer.address() as AddressInfo).port));
      }),
    close: () => apollo.stop(),
  };
}
