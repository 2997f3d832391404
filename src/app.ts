import type { MikroORM } from '@mikro-orm/postgresql';
import { Duration } from 'luxon';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { resolveSigningSecret } from './auth/signing-secret.js';
import { createTokenVerifier } from './auth/tokens.js';
import { migrate, openOrm } from './db/orm.js';
import { EventHub } from './events/event-hub.js';
import { pruneEvents } from './events/event-retention.js';
import { pruneIdempotencyKeys } from './shared/idempotency.js';
import { announceScheduledCloses } from './modules/sessions/closing-events.js';
import type { Resolver } from './modules/webhooks/webhook-address.js';
import { WebhookDispatcher } from './modules/webhooks/webhook-dispatcher.js';
import { dropRemovedWebhookDeliveries } from './modules/webhooks/webhook-retention.js';
import { buildAppSchema } from './graphql/schema.js';
import { Scheduler } from './scheduler/scheduler.js';
import { createHttpServer } from './server.js';
import { createServices, type Services } from './services.js';
import { type Clock, systemClock } from './shared/clock.js';
import { MAX_TIMER_MS } from './shared/timers.js';

/**
 * How often a replica forgets old events, dropped deliveries and idempotency keys: they are kept
 * for days, so every tick on every replica would be wasted work.
 */
const HOUSEKEEPING_EVERY = Duration.fromObject({ minutes: 5 });

export interface AppOptions {
  config: Config;
  databaseUrl: string;
  logger: Logger;
  /** The system clock unless a test injects one it can move. */
  clock?: Clock;
  /** How webhook receivers' names are resolved: the system resolver unless a test injects one. */
  webhookResolver?: Resolver;
  /** How often the event hub looks for events no commit announced: every second unless a test injects another. */
  eventSweepIntervalMs?: number;
}

export interface App {
  readonly port: number;
  readonly url: string;
  readonly orm: MikroORM;
  readonly services: Services;
  readonly scheduler: Scheduler;
  readonly events: EventHub;
  readonly webhooks: WebhookDispatcher;
  /** Stops taking requests, finishes those in flight, stops the scheduler, closes the pool. */
  stop(): Promise<void>;
}

/** Migrates the database, then serves GraphQL and runs the scheduler. */
export async function startApp({ config, databaseUrl, logger, clock = systemClock, webhookResolver, eventSweepIntervalMs }: AppOptions): Promise<App> {
  const orm = await openOrm({
    url: databaseUrl,
    poolSize: config.databasePoolSize,
    acquireTimeoutMs: config.databaseAcquireTimeout.toMillis(),
    statementTimeoutMs: config.databaseStatementTimeout.toMillis(),
    logger,
  });
  await migrate(orm, logger);

  // Which receivers webhooks may have: checked at registration and again at each delivery.
  const webhookAddresses = { allowPrivateAddresses: config.webhookAllowPrivateAddresses, requireHttps: config.nodeEnv === 'production' };
  const webhooks = new WebhookDispatcher(orm, clock, logger, { ...webhookAddresses, resolve: webhookResolver });
  let scheduler: Scheduler | undefined;
  const services = createServices({
    holdDuration: config.holdDuration,
    holdMaxDuration: config.holdMaxDuration,
    checkoutBatchTimeouts: {
      // A second past the longest a connection may take to come and a statement to run, a batch
      // has not merely been slow: its connection is gone.
      // Each is at most a timer's reach; their sum may not be (setTimeout would make it 1 ms).
      batchMs: Math.min(config.databaseAcquireTimeout.toMillis() + config.databaseStatementTimeout.toMillis() + 1000, MAX_TIMER_MS),
      queueMs: config.databaseAcquireTimeout.toMillis(),
    },
    locationStrategy: config.locationStrategy,
    closeListener: { sessionClosed: () => scheduler?.wake() },
    webhookAddresses,
  });
  scheduler = new Scheduler(
    orm,
    clock,
    config.schedulerInterval,
    [
      // Retries come due with time; new deliveries are also sent at once when queued. Not awaited,
      // and first: a receiver that hangs must not hold up hold expiry and session completion, nor
      // they (waiting for busy rows) the retries.
      { name: 'deliver-webhooks', run: async () => (webhooks.wake(), 0) },
      // Expiry before completion: a session waiting only on lapsed holds completes in the same tick.
      { name: 'expire-lapsed-holds', run: (ctx) => services.customerOrders.expireLapsedHolds(ctx) },
      { name: 'announce-scheduled-closes', run: announceScheduledCloses },
      { name: 'complete-closed-sessions', run: (ctx) => services.completion.completeDueSessions(ctx) },
      { name: 'drop-removed-webhook-deliveries', every: HOUSEKEEPING_EVERY, run: dropRemovedWebhookDeliveries },
      { name: 'prune-events', every: HOUSEKEEPING_EVERY, run: (ctx) => pruneEvents(ctx, config.eventRetention) },
      { name: 'prune-idempotency-keys', every: HOUSEKEEPING_EVERY, run: (ctx) => pruneIdempotencyKeys(ctx, config.idempotencyKeyRetention) },
    ],
    logger,
  );

  const events = new EventHub(orm, databaseUrl, clock, logger, {
    maxBuffered: config.subscriptionBuffer,
    onDeliveriesQueued: () => webhooks.wake(),
    sweepIntervalMs: eventSweepIntervalMs,
  });
  await events.start();
  // Nothing is served if the rest fails (the port in use): what was started is let go first, so
  // that the cause is the last word logged, not the event listener losing its connection.
  const startedSoFar = async () => {
    await events.stop().catch(() => undefined);
    await orm.close().catch(() => undefined);
  };
  const server = await createHttpServer({
    schema: await buildAppSchema(events),
    orm,
    services,
    events,
    clock,
    logger,
    verifyToken: createTokenVerifier({
      secret: signingSecret(config, logger),
      jwksUrl: config.jwksUrl,
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
    }),
    limits: config,
  }).catch(async (error: unknown) => {
    await startedSoFar();
    throw error;
  });
  const port = await server.listen(config.port).catch(async (error: unknown) => {
    await server.close().catch(() => undefined);
    await startedSoFar();
    throw error;
  });
  scheduler.start();
  logger.info({ url: `http://localhost:${port}/graphql` }, 'GraphQL API ready');

  const running = scheduler;
  return {
    port,
    url: `http://localhost:${port}/graphql`,
    orm,
    services,
    scheduler: running,
    events,
    webhooks,
    async stop() {
      await server.close();
      await running.stop();
      await webhooks.stop();
      await events.stop();
      await orm.close();
    },
  };
}

/**
 * The signing secret, saying so when it was generated for a server on a database of its own
 * choosing: replicas on other machines would each generate their own and refuse each other's tokens.
 */
function signingSecret(config: Config, logger: Logger): string | undefined {
  const secret = resolveSigningSecret(config);
  if (secret && !config.jwtSecret && config.databaseUrl) {
    logger.warn({ file: `${config.dataDir}/jwt-secret` }, 'JWT_SECRET is not set: tokens are signed with a secret generated on this machine; set JWT_SECRET to the same value on every replica');
  }
  return secret;
}
