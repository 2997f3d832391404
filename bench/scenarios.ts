// The benchmark scenarios. Each measures the server over HTTP/WebSocket and, where it makes sense,
// the same work done with plain SQL (the reference), side by side on the same database.
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { type BenchEnvironment, percentile } from './environment.js';

export interface ScenarioResult {
  scenario: string;
  rows: Record<string, string | number>[];
  checks: { name: string; ok: boolean; detail: string }[];
  /** Further tables (the statements profile, with --statements). */
  tables?: { title: string; rows: Record<string, string | number>[] }[];
}

const CHECKOUT = `mutation ($input: CheckoutInput!) { checkout(input: $input) { customerOrder { id } userErrors { code } } }`;
const CONFIRM = `mutation ($input: CustomerOrderRefInput!) { confirmPayment(input: $input) { userErrors { code } } }`;
const CATALOGUE_PAGE = `query ($id: ID!) { salesSession(id: $id) { status offers { id available price { amount currency } product { name unit producer { name } } } } }`;

/** A producer, `count` products with `stock` each, and an open session at a hub offering them all. */
export async function catalogue(env: BenchEnvironment, count: number, stock: string) {
  const { createProducer } = await env.gql<{ createProducer: { producer: { id: string } } }>(
    'mutation ($n: String!) { createProducer(input: { name: $n }) { producer { id } } }',
    { n: `Producer ${randomUUID().slice(0, 6)}` },
  );
  const { createHub } = await env.gql<{ createHub: { hub: { id: string } } }>('mutation { createHub(input: { name: "Bench hub" }) { hub { id } } }');
  const products: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const { createProduct } = await env.gql<{ createProduct: { product: { id: string } } }>(
      'mutation ($input: CreateProductInput!) { createProduct(input: $input) { product { id } } }',
      { input: { producerId: createProducer.producer.id, name: `Product ${i}`, sku: randomUUID(), unit: 'each' } },
    );
    products.push(createProduct.product.id);
  }
  await env.db.query(
    `WITH p AS (SELECT unnest($1::uuid[]) AS id)
     , upd AS (UPDATE stock_level s SET on_hand = on_hand + $2::numeric FROM p WHERE s.product_id = p.id RETURNING s.product_id, s.location_id)
     INSERT INTO stock_movement (product_id, location_id, kind, on_hand_delta, reason, created_at)
     SELECT product_id, location_id, 'ADJUST', $2::numeric, 'bench stock', now() FROM upd`,
    [products, stock],
  );
  const now = Date.now();
  const { createSalesSession } = await env.gql<{ createSalesSession: { salesSession: { id: string; offers: { id: string; product: { id: string } }[] } } }>(
    'mutation ($input: CreateSalesSessionInput!) { createSalesSession(input: $input) { salesSession { id offers { id product { id } } } userErrors { message } } }',
    {
      input: {
        hubId: createHub.hub.id,
        opensAt: new Date(now - 3_600_000).toISOString(),
        closesAt: new Date(now + 6 * 3_600_000).toISOString(),
        timeZone: 'Europe/Paris',
        offers: products.map((productId) => ({ productId, price: { amount: 100, currency: 'EUR' } })),
      },
    },
  );
  return { session: createSalesSession.salesSession, products };
}

/**
 * Holds done with plain SQL over pg, one transaction each: the ceiling the server is compared with.
 * With no more connections than the server has (`clients` beyond them would queue on the hot row
 * and slow the reference, not the server).
 */
async function reference(env: BenchEnvironment, products: string[], clients: number, seconds: number) {
  clients = Math.min(clients, env.poolSize);
  // Sampled as the server's runs are, so that the sampling's own cost is in both CPU figures.
  const sampling = sampleDatabaseSessions(env);
  const cpu = cpuPerHold(env);
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  let held = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const client = await env.db.connect();
      try {
        while (Date.now() < deadline) {
          const productId = products[Math.floor(Math.random() * products.length)]!;
          const started = performance.now();
          await client.query('BEGIN');
          const { rowCount } = await client.query(
            'UPDATE stock_level SET held = held + 1 WHERE product_id = $1 AND on_hand - held - committed >= 1 RETURNING product_id',
            [productId],
          );
          if (rowCount) await client.query('INSERT INTO bench_reference_hold (product_id) VALUES ($1)', [productId]);
          await client.query('COMMIT');
          latencies.push(performance.now() - started);
          if (rowCount) held += 1;
          else refused += 1;
        }
      } finally {
        client.release();
      }
    }),
  );
  await sampling.stop();
  return { throughput: (held + refused) / seconds, p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), held, refused, cpu: cpu.stop(held + refused) };
}

/**
 * CPU time per hold (per checkout asked, held or refused) of the server's processes and of
 * PostgreSQL's, from when it is called to stop(): what each side costs, which decides how many
 * holds two shared cores can take.
 */
function cpuPerHold(env: BenchEnvironment) {
  const server = env.serverCpuMs();
  const database = env.databaseCpuMs();
  const per = (before: number | undefined, after: number | undefined, holds: number) =>
    before === undefined || after === undefined || holds === 0 ? 'n/a' : ((after - before) / holds).toFixed(2);
  return {
    stop: (holds: number) => ({ server: per(server, env.serverCpuMs(), holds), database: per(database, env.databaseCpuMs(), holds) }),
  };
}

/**
 * Runs autocannon, sampling the server's RSS while it runs (the most it reached). Latencies are
 * the caller's to time (its requests' onResponse), per whole hold where a hold is two requests.
 */
async function load(env: BenchEnvironment, options: autocannon.Options) {
  let rss = env.serverRssMiB();
  const sampler = setInterval(() => (rss = Math.max(rss, env.serverRssMiB())), 250);
  try {
    const result = await new Promise<autocannon.Result>((resolve, reject) => {
      autocannon(options, (error, done) => (error ? reject(error) : resolve(done)));
    });
    return { result, rss };
  } finally {
    clearInterval(sampler);
  }
}

/** Checkout (1 unit of a product picked by `pick`), then confirm payment, from `clients` connections. */
async function checkoutLoad(env: BenchEnvironment, sessionId: string, offerIds: string[], clients: number, seconds: number) {
  let held = 0;
  let refused = 0;
  let errors = 0;
  let paymentErrors = 0;
  // A hold's latency, as the reference's is one hold's transaction: from the checkout sent to its
  // payment answered (or to the checkout's answer, for one refused); and the checkout's alone.
  const holdTimes: number[] = [];
  const checkoutTimes: number[] = [];
  type HoldContext = { orderId?: string; sentAt?: number };
  await env.statements?.reset();
  const sampling = sampleDatabaseSessions(env);
  const cpu = cpuPerHold(env);
  const { result, rss } = await load(env, {
    url: env.url,
    connections: clients,
    duration: seconds,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${env.adminToken}` },
        setupRequest: (request, context) => {
          (context as HoldContext).sentAt = performance.now();
          const lines = [{ offerId: offerIds[Math.floor(Math.random() * offerIds.length)], quantity: '1' }];
          const input = { salesSessionId: sessionId, customerRef: 'bench', idempotencyKey: randomUUID(), lines };
          return { ...request, body: JSON.stringify({ query: CHECKOUT, variables: { input } }) };
        },
        onResponse: (status, body, context) => {
          const hold = context as HoldContext;
          checkoutTimes.push(performance.now() - hold.sentAt!);
          const parsed = status === 200 ? (JSON.parse(body) as { data?: { checkout: { customerOrder: { id: string } | null; userErrors: { code: string }[] } } }) : undefined;
          const order = parsed?.data?.checkout.customerOrder;
          if (order) held += 1;
          else if (parsed?.data?.checkout.userErrors[0]?.code === 'INSUFFICIENT_STOCK') refused += 1;
          else errors += 1;
          if (!order) holdTimes.push(performance.now() - hold.sentAt!);
          hold.orderId = order?.id;
        },
      },
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${env.adminToken}` },
        setupRequest: (request, context) => ({
          ...request,
          body: JSON.stringify({ query: CONFIRM, variables: { input: { customerOrderId: (context as HoldContext).orderId ?? randomUUID() } } }),
        }),
        onResponse: (status, body, context) => {
          const hold = context as HoldContext;
          if (!hold.orderId) return; // the checkout placed nothing: there was nothing to pay
          holdTimes.push(performance.now() - hold.sentAt!);
          const parsed = status === 200 ? (JSON.parse(body) as { data?: { confirmPayment: { userErrors: unknown[] } } }) : undefined;
          if (!parsed?.data || parsed.data.confirmPayment.userErrors.length > 0) paymentErrors += 1;
        },
      },
    ],
  });
  const sessions = await sampling.stop();
  // Holds/s: the checkouts answered (held or refused for want of stock); an error is not a hold.
  const answered = held + refused;
  return {
    sessions,
    cpu: cpu.stop(answered),
    statements: await env.statements?.top(12),
    throughput: answered / seconds,
    p50: percentile(holdTimes, 50),
    p95: percentile(holdTimes, 95),
    p99: percentile(holdTimes, 99),
    checkoutP99: percentile(checkoutTimes, 99),
    held,
    refused,
    rss,
    // Connection-level failures (autocannon's errors) and non-200 answers are counted by the
    // handlers above already (a non-200 checkout is an error there).
    errors: errors + paymentErrors + result.errors,
  };
}

/**
 * `answered` counts the checkouts whose answer arrived; the load generator stops at its deadline
 * with up to one request per connection in flight, which may still commit.
 */
async function stockChecks(env: BenchEnvironment, products: string[], answered: number, inFlight: number) {
  const { rows } = await env.db.query(
    `SELECT coalesce(sum(s.held + s.committed), 0)::bigint AS taken,
            count(*) FILTER (WHERE s.on_hand - s.held - s.committed < 0)::int AS negative,
            count(*) FILTER (WHERE s.on_hand <> m.on_hand OR s.held <> m.held OR s.committed <> m.committed)::int AS drift
       FROM stock_level s
       JOIN (SELECT product_id, sum(on_hand_delta) AS on_hand, sum(held_delta) AS held, sum(committed_delta) AS committed
               FROM stock_movement GROUP BY product_id) m ON m.product_id = s.product_id
      WHERE s.product_id = ANY($1)`,
    [products],
  );
  const { taken, negative, drift } = rows[0];
  return [
    {
      name: 'units held = checkouts answered with an order (+ those in flight at the deadline)',
      ok: Number(taken) >= answered && Number(taken) <= answered + inFlight,
      detail: `${taken} held, ${answered} answered, ${inFlight} connections`,
    },
    { name: 'nothing oversold', ok: negative === 0, detail: `${negative} negative levels` },
    { name: 'ledger = levels', ok: drift === 0, detail: `${drift} drifted` },
  ];
}

/**
 * What the server's database sessions are doing, sampled every 20 ms from pg_stat_activity while
 * `load` runs: waiting for a row lock; inside a transaction, waiting for the server to send the
 * next statement; idle between statements (a pooled connection the server is not using); or
 * working. Shares of the samples over all the connections, in percent. Read the working share
 * with the number of connections: 5% of 32 connections is 1.6 backends busy on average, most of
 * a core; the CPU column says what each side costs.
 */
function sampleDatabaseSessions(env: BenchEnvironment) {
  const counts = { lock: 0, server: 0, idle: 0, working: 0 };
  let running = true;
  const sampler = (async () => {
    while (running) {
      const { rows } = await env.db.query(
        `SELECT count(*) FILTER (WHERE wait_event_type = 'Lock')::int AS lock,
                count(*) FILTER (WHERE state = 'idle in transaction')::int AS server,
                count(*) FILTER (WHERE state = 'idle')::int AS idle,
                count(*) FILTER (WHERE state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock')::int AS working
           FROM pg_stat_activity
          WHERE datname = current_database()
            AND application_name = 'foodhub-wholesale'`,
      );
      counts.lock += rows[0].lock;
      counts.server += rows[0].server;
      counts.idle += rows[0].idle;
      counts.working += rows[0].working;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await sampler;
      const total = counts.lock + counts.server + counts.idle + counts.working || 1;
      const share = (n: number) => `${Math.round((100 * n) / total)}%`;
      return `${share(counts.lock)} / ${share(counts.server)} / ${share(counts.idle)} / ${share(counts.working)}`;
    },
  };
}

type CpuPerHold = { server: string; database: string };

function ratioRow(label: string, server: { throughput: number; p50: number; p95: number; p99: number; checkoutP99: number; errors: number; sessions: string; cpu: CpuPerHold; rss: number }, ref: { throughput: number; p50: number; p99: number; cpu: CpuPerHold }) {
  return {
    run: label,
    'server holds/s': Math.round(server.throughput),
    'reference holds/s': Math.round(ref.throughput),
    ratio: (server.throughput / ref.throughput).toFixed(2),
    'hold p50 ms': server.p50.toFixed(1),
    'hold p95 ms': server.p95.toFixed(1),
    'hold p99 ms': server.p99.toFixed(1),
    'checkout p99 ms': server.checkoutP99.toFixed(1),
    'reference p99 ms': ref.p99.toFixed(1),
    errors: server.errors,
    'DB sessions: lock wait / in a transaction, waiting for server / idle / working': server.sessions,
    'CPU ms per hold: server / PostgreSQL': `${server.cpu.server} / ${server.cpu.database}`,
    'reference CPU ms per hold: PostgreSQL': ref.cpu.database,
    'server RSS MiB (most during the run)': server.rss,
  };
}

/** The server's run's statements, costliest first (pg_stat_statements; "nested" ran inside a function or trigger). */
function statementsTable(run: string, checkouts: number, rows: Record<string, string | number>[]) {
  return { title: `${run}: statements by run + plan time, ${checkouts} checkouts (pg_stat_statements)`, rows };
}

/**
 * The checkout load, unmeasured, before the first measured run, and the reference's the same way.
 * A server runs for days; in the first seconds after it starts, V8 is still compiling the
 * checkout's path on the same two cores (bench/probe-threads.ts shows its compiler threads busy),
 * and two runs back to back in one process gave 10-20% more holds/s the second time
 * (bench/probe-sched.ts). Without it, the first table measured the start-up as much as the server.
 */
export async function warmUp(env: BenchEnvironment, clients: number, seconds: number): Promise<void> {
  if (seconds <= 0) return;
  const { session } = await catalogue(env, 1, '10000000');
  await checkoutLoad(env, session.id, session.offers.map((o) => o.id), clients, seconds);
  await reference(env, (await catalogue(env, 1, '10000000')).products, clients, seconds);
}

/**
 * The hot product sold out: `units` of it, `clients` checking out 1 unit each until well after it
 * is gone. Every unit is held once and no more (units held = stock), every checkout is answered
 * (held + refused = asked, but for those in flight at the deadline), and the refusals say why.
 */
async function sellOut(env: BenchEnvironment, clients: number, units: number) {
  const { session, products } = await catalogue(env, 1, String(units));
  // A few times what selling out takes (at 200 holds/s, a third of what this machine takes), so a
  // slower or busier machine still sells out.
  const seconds = Math.max(4, Math.ceil(units / 200));
  let asked = 0;
  let held = 0;
  let refused = 0;
  let other = 0;
  await load(env, {
    url: env.url,
    connections: clients,
    duration: seconds,
    requests: [{
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.adminToken}` },
      setupRequest: (request) => {
        asked += 1;
        return {
          ...request,
          body: JSON.stringify({ query: CHECKOUT, variables: { input: { salesSessionId: session.id, customerRef: 'sell-out', idempotencyKey: randomUUID(), lines: [{ offerId: session.offers[0]!.id, quantity: '1' }] } } }),
        };
      },
      onResponse: (status, body) => {
        const parsed = status === 200 ? (JSON.parse(body) as { data?: { checkout: { customerOrder: unknown; userErrors: { code: string }[] } } }) : undefined;
        if (parsed?.data?.checkout.customerOrder) held += 1;
        else if (parsed?.data?.checkout.userErrors[0]?.code === 'INSUFFICIENT_STOCK') refused += 1;
        else other += 1;
      },
    }],
  });
  const { rows: [level] } = await env.db.query(
    'SELECT sum(held + committed)::int AS taken, sum(on_hand - held - committed)::int AS available FROM stock_level WHERE product_id = $1',
    [products[0]],
  );
  const unanswered = asked - held - refused - other;
  return [
    { name: `sold out (${units} units, ${clients} clients): units held = stock, answered as held = held`, ok: level.taken === units && held === units && level.available === 0, detail: `${level.taken} held in the database, ${held} answered as held, ${level.available} left` },
    { name: `sold out: held + refused = asked (but those in flight at the deadline), no other answer`, ok: refused > 0 && other === 0 && unanswered >= 0 && unanswered <= clients, detail: `${held} + ${refused} of ${asked} asked, ${unanswered} in flight, ${other} other` },
  ];
}

export async function hotProduct(env: BenchEnvironment, clientCounts: number[], seconds: number): Promise<ScenarioResult> {
  const rows = [];
  const checks = [];
  const tables = [];
  for (const clients of clientCounts) {
    const { session, products } = await catalogue(env, 1, '10000000');
    const server = await checkoutLoad(env, session.id, session.offers.map((o) => o.id), clients, seconds);
    checks.push(...(await stockChecks(env, products, server.held, clients)).map((c) => ({ ...c, name: `${clients} clients: ${c.name}` })));
    const refProducts = (await catalogue(env, 1, '10000000')).products;
    const ref = await reference(env, refProducts, clients, seconds);
    rows.push(ratioRow(`${clients} clients`, server, ref));
    if (server.statements) tables.push(statementsTable(`${clients} clients`, server.held + server.refused, server.statements));
    checks.push(...(await sellOut(env, clients, 25 * clients)).map((c) => ({ ...c, name: `${clients} clients: ${c.name}` })));
  }
  return { scenario: 'Hot product: one product, checkout 1 unit then confirm payment', rows, checks, tables };
}

export async function uniform(env: BenchEnvironment, productCount: number, clients: number, seconds: number): Promise<ScenarioResult> {
  const { session, products } = await catalogue(env, productCount, '100000');
  const server = await checkoutLoad(env, session.id, session.offers.map((o) => o.id), clients, seconds);
  const checks = await stockChecks(env, products, server.held, clients);
  const ref = await reference(env, products, clients, seconds);
  const tables = server.statements ? [statementsTable(`${clients} clients`, server.held + server.refused, server.statements)] : [];
  return { scenario: `Uniform: ${productCount} products, checkout 1 unit then confirm payment`, rows: [ratioRow(`${clients} clients`, server, ref)], checks, tables };
}

/**
 * Many confirmed orders in sessions that close together: the time from the close to every
 * producer order COMPLETE, and how many SQL statements that took.
 */
export async function sessionClose(env: BenchEnvironment, sizes: number[], hubs = 20, producers = 200): Promise<ScenarioResult> {
  const rows = [];
  const checks = [];
  for (const orders of sizes) {
    const seeded = await seedClosedSessions(env, orders, hubs, producers);
    const before = await env.statementCount();
    const started = performance.now();
    await env.db.query('UPDATE sales_session SET closes_at = now() - interval \'1 second\', opens_at = now() - interval \'2 hours\' WHERE id = ANY($1)', [seeded.sessions]);
    for (;;) {
      const { rows: left } = await env.db.query('SELECT count(*)::int AS n FROM sales_session WHERE id = ANY($1) AND completed_at IS NULL', [seeded.sessions]);
      if (left[0].n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const seconds = (performance.now() - started) / 1000;
    const after = await env.statementCount();
    const { rows: states } = await env.db.query(
      `SELECT count(*) FILTER (WHERE order_state = 'COMPLETE')::int AS complete, count(*)::int AS total FROM producer_order WHERE sales_session_id = ANY($1)`,
      [seeded.sessions],
    );
    rows.push({
      orders,
      sessions: hubs,
      'producer orders': states[0].total,
      'seconds from close to all COMPLETE': seconds.toFixed(2),
      'SQL statements (whole database, incl. polling)': before === undefined || after === undefined ? 'n/a' : after - before,
      'server RSS MiB': env.serverRssMiB(),
    });
    checks.push({ name: `${orders} orders: every producer order COMPLETE`, ok: states[0].complete === states[0].total, detail: `${states[0].complete}/${states[0].total}` });
  }
  return { scenario: `Session close at scale: ${hubs} hubs, ${producers} producers`, rows, checks };
}

/**
 * One session of `orders` confirmed orders cancelled (cancelSalesSession, as the operator): how long the
 * one request takes, which releases every order's stock in one transaction. Not a target of
 * issue #6: what an operator needs to know against DATABASE_STATEMENT_TIMEOUT.
 */
export async function sessionCancel(env: BenchEnvironment, sizes: number[], producers = 200): Promise<ScenarioResult> {
  const rows = [];
  const checks = [];
  for (const orders of sizes) {
    const { sessions: [session] } = await seedClosedSessions(env, orders, 1, producers);
    const started = performance.now();
    const { cancelSalesSession } = await env.gql<{ cancelSalesSession: { salesSession: { status: string } | null; userErrors: unknown[] } }>(
      'mutation ($input: CancelSalesSessionInput!) { cancelSalesSession(input: $input) { salesSession { status } userErrors { code message } } }',
      { input: { salesSessionId: session } },
    );
    const seconds = (performance.now() - started) / 1000;
    const { rows: live } = await env.db.query("SELECT count(*)::int AS n FROM customer_order WHERE sales_session_id = $1 AND status IN ('PENDING_PAYMENT', 'CONFIRMED')", [session]);
    const { rows: held } = await env.db.query(
      'SELECT trim_scale(coalesce(sum(s.held), 0))::text AS held FROM stock_level s JOIN offer f ON f.product_id = s.product_id WHERE f.sales_session_id = $1',
      [session],
    );
    rows.push({ orders, producers, 'seconds for the request': seconds.toFixed(2), 'server RSS MiB': env.serverRssMiB() });
    checks.push({
      name: `${orders} orders: the session CANCELLED, no order left live, nothing held`,
      ok: cancelSalesSession.salesSession?.status === 'CANCELLED' && live[0].n === 0 && held[0].held === '0',
      detail: `${cancelSalesSession.salesSession?.status ?? JSON.stringify(cancelSalesSession.userErrors)}, ${live[0].n} live, ${held[0].held} held`,
    });
  }
  return { scenario: 'Session cancel: one session of confirmed orders, cancelled in one request', rows, checks };
}

/** Seeds, with SQL, `orders` confirmed one-line orders spread over `hubs` open sessions, as checkout would leave them. */
async function seedClosedSessions(env: BenchEnvironment, orders: number, hubs: number, producers: number) {
  const tag = randomUUID().slice(0, 8);
  const { rows } = await env.db.query(
    `WITH prod AS (INSERT INTO producer (id, name) SELECT gen_random_uuid(), 'P' || g || '-' || $1 FROM generate_series(1, $2) g RETURNING id),
          locations AS (INSERT INTO location (id, producer_id, name, priority) SELECT gen_random_uuid(), id, 'Main', 1 FROM prod),
          product_rows AS (INSERT INTO product (id, producer_id, name, sku, unit) SELECT gen_random_uuid(), id, 'Veg', 'SKU-' || id, 'kg' FROM prod RETURNING id, producer_id),
          hubs AS (INSERT INTO hub (id, name) SELECT gen_random_uuid(), 'H' || g || '-' || $1 FROM generate_series(1, $3) g RETURNING id),
          sessions AS (INSERT INTO sales_session (id, hub_id, opens_at, closes_at, time_zone)
                        SELECT gen_random_uuid(), id, now() - interval '1 hour', now() + interval '1 day', 'Europe/Paris' FROM hubs RETURNING id, hub_id)
     SELECT (SELECT json_agg(id) FROM sessions) AS sessions, (SELECT json_agg(id) FROM product_rows) AS products`,
    [tag, producers, hubs],
  );
  const sessions: string[] = rows[0].sessions;
  const products: string[] = rows[0].products;
  await env.db.query(
    `INSERT INTO stock_level (product_id, location_id, on_hand)
     SELECT p.id, l.id, $2::numeric FROM product p JOIN location l ON l.producer_id = p.producer_id WHERE p.id = ANY($1::uuid[])`,
    [products, Math.ceil(orders / producers) + 10],
  );
  await env.db.query(
    `INSERT INTO stock_movement (product_id, location_id, kind, on_hand_delta, reason, created_at)
     SELECT product_id, location_id, 'ADJUST', on_hand, 'seed', now() FROM stock_level WHERE product_id = ANY($1::uuid[])`,
    [products],
  );
  await env.db.query(
    `INSERT INTO offer (id, sales_session_id, product_id, price_amount, price_currency)
     SELECT gen_random_uuid(), s, p, 100, 'EUR' FROM unnest($1::uuid[]) s, unnest($2::uuid[]) p`,
    [sessions, products],
  );
  await env.db.query(
    `INSERT INTO producer_order (id, sales_session_id, producer_id, hub_id, order_state, fulfilment_state)
     SELECT gen_random_uuid(), s.id, pr.producer_id, s.hub_id, 'HELD', 'HELD' FROM sales_session s, product pr WHERE s.id = ANY($1) AND pr.id = ANY($2)`,
    [sessions, products],
  );
  // Order n buys 1 unit of product n mod producers in session (n / producers) mod hubs, so every
  // (session, producer) pair gets orders once there are hubs x producers of them.
  await env.db.query(
    `WITH o AS (
       SELECT g, gen_random_uuid() AS id, ($1::uuid[])[1 + (g / array_length($2::uuid[], 1)) % array_length($1::uuid[], 1)] AS session_id,
              ($2::uuid[])[1 + g % array_length($2::uuid[], 1)] AS product_id
         FROM generate_series(0, $3 - 1) g),
     co AS (INSERT INTO customer_order (id, sales_session_id, hub_id, customer_ref, status, idempotency_key, request_hash)
            SELECT o.id, o.session_id, s.hub_id, 'c' || o.g, 'CONFIRMED', 'seed-' || o.id, 'seed' FROM o JOIN sales_session s ON s.id = o.session_id RETURNING id),
     lines AS (INSERT INTO customer_order_line (id, customer_order_id, offer_id, product_id, producer_order_id, quantity, unit_price_amount, currency)
               SELECT gen_random_uuid(), o.id, f.id, o.product_id, po.id, 1, 100, 'EUR'
                 FROM o JOIN offer f ON f.sales_session_id = o.session_id AND f.product_id = o.product_id
                 JOIN product p ON p.id = o.product_id
                 JOIN producer_order po ON po.sales_session_id = o.session_id AND po.producer_id = p.producer_id
               RETURNING product_id, producer_order_id, customer_order_id)
     , held AS (INSERT INTO stock_movement (product_id, location_id, kind, held_delta, customer_order_id, producer_order_id, created_at)
                SELECT l.product_id, s.location_id, 'HOLD', 1, l.customer_order_id, l.producer_order_id, now()
                  FROM lines l JOIN stock_level s ON s.product_id = l.product_id RETURNING product_id)
     UPDATE stock_level s SET held = s.held + h.n FROM (SELECT product_id, count(*) AS n FROM held GROUP BY product_id) h WHERE s.product_id = h.product_id`,
    [sessions, products, orders],
  );
  return { sessions };
}

/** `subscribers` storefronts watch one session; the delay from each checkout's answer to each subscriber's event. */
export async function fanOut(env: BenchEnvironment, subscribers: number, checkouts: number): Promise<ScenarioResult> {
  const { session } = await catalogue(env, 1, '100000');
  const offerId = session.offers[0]!.id;
  const arrivals: number[][] = Array.from({ length: checkouts }, () => []);
  let expected = -1;
  const clients = await Promise.all(
    Array.from({ length: subscribers }, async () => {
      const client = createClient({ url: env.url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, lazy: false, retryAttempts: 0 });
      await new Promise<void>((resolve) => client.on('connected', () => resolve()));
      client.subscribe(
        { query: `subscription { availabilityChanged(salesSessionId: "${session.id}") { available } }` },
        { next: () => arrivals[expected]?.push(performance.now()), error: () => undefined, complete: () => undefined },
      );
      return client;
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 500)); // let every subscription register
  const latencies: number[] = [];
  let missing = 0;
  for (let i = 0; i < checkouts; i += 1) {
    expected = i;
    const response = await fetch(env.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.adminToken}` },
      body: JSON.stringify({ query: CHECKOUT, variables: { input: { salesSessionId: session.id, customerRef: 'fan', idempotencyKey: randomUUID(), lines: [{ offerId, quantity: '1' }] } } }),
    });
    await response.json();
    const committed = performance.now();
    const deadline = committed + 5000;
    while (arrivals[i]!.length < subscribers && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    missing += subscribers - arrivals[i]!.length;
    latencies.push(...arrivals[i]!.map((t) => Math.max(0, t - committed)));
  }
  await Promise.all(clients.map((c) => c.dispose()));
  return {
    scenario: `Fan-out: ${subscribers} subscribers on one session`,
    rows: [{ subscribers, checkouts, 'events delivered': latencies.length, 'p50 ms': percentile(latencies, 50).toFixed(1), 'p95 ms': percentile(latencies, 95).toFixed(1), 'p99 ms': percentile(latencies, 99).toFixed(1), 'server RSS MiB': env.serverRssMiB() }],
    checks: [{ name: 'every subscriber got every event', ok: missing === 0, detail: `${missing} missing` }],
  };
}

/**
 * Requests arriving at `rate` per second, `together` at a time: one every 1/rate s (`together`
 * 1), or `together` at the same instant every together/rate s. Each arrival is its own visitor:
 * `rate` autocannon instances of one connection and one request a second, started at their
 * offsets. (Autocannon's own `overallRate` is a quota per connection per second, sent back to back
 * from the start of each second: 100 requests a second from 10 connections all arrive in the first
 * ~150 ms of it, which is 1,000 a second for a tenth of the time.)
 *
 * Each visitor's first `leadInSeconds` requests (rounded up, at least one) are not measured: they
 * are the load generator starting its instances and connecting them, and (for a warm-up) V8
 * compiling the server's path. Its next `seconds` requests are, on the same connection. Errors,
 * answers other than 200 and, with `expectBody`, answers other than it count over the whole run.
 */
async function pacedLoad(options: autocannon.Options, rate: number, seconds: number, together: number, leadInSeconds = 1) {
  /** When each measured answer came (ms since the start), when its request was sent, and how long it took. */
  const answers: { at: number; sentAt: number; ms: number }[] = [];
  const gap = 1000 / rate;
  const leadIn = Math.max(1, Math.ceil(leadInSeconds));
  const measured = Math.max(1, Math.round(seconds));
  const started = performance.now();
  let failed = 0;
  const results = await Promise.all(Array.from({ length: rate }, async (_, i) => {
    await new Promise((resolve) => setTimeout(resolve, Math.floor(i / together) * together * gap));
    return new Promise<autocannon.Result>((resolve, reject) => {
      let answered = 0;
      const instance = autocannon({ ...options, connections: 1, overallRate: 1, amount: leadIn + measured }, (error, done) => (error ? reject(error) : resolve(done)));
      instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
        if (status !== 200) failed += 1;
        // One connection, one request at a time: answers come in the order of the requests.
        answered += 1;
        if (answered <= leadIn) return;
        const at = performance.now() - started;
        answers.push({ at, sentAt: at - responseTime, ms: responseTime });
      });
    });
  }));
  const sum = (pick: (r: autocannon.Result) => number) => results.reduce((total, r) => total + pick(r), 0);
  const times = answers.map((a) => a.ms);
  // From the first measured request to the last answer, and the last arrivals' share of time.
  const window = Math.max(...answers.map((a) => a.at)) - Math.min(...answers.map((a) => a.sentAt)) + together * gap;
  return {
    result: { requests: { total: times.length }, errors: sum((r) => r.errors) + sum((r) => r.mismatches), non2xx: failed },
    latency: { p50: percentile(times, 50), p95: percentile(times, 95), p99: percentile(times, 99) },
    /** About `seconds`, unless answers fall behind. */
    elapsedSeconds: window / 1000,
    answers,
  };
}

/**
 * A storefront's catalogue page: one session's offers with live availability, `rate` visitors a
 * second: arriving one at a time, spread evenly, then ten at the same instant. Each measured run
 * follows `leadInSeconds` of the same reads, unmeasured (at least 1 s: pacedLoad()).
 */
export async function catalogueRead(env: BenchEnvironment, offers: number, rate: number, seconds: number, leadInSeconds: number): Promise<ScenarioResult> {
  const { session } = await catalogue(env, offers, '1000');
  const body = JSON.stringify({ query: CATALOGUE_PAGE, variables: { id: session.id } });
  const headers = { 'content-type': 'application/json' };
  // Nothing is bought during the reads: every answer must be this page, whole and without errors.
  const page = await (await fetch(env.url, { method: 'POST', headers, body })).text();
  if (!page.includes('"offers"') || page.includes('"errors"')) throw new Error(`the catalogue page failed: ${page.slice(0, 200)}`);
  const options = { url: env.url, method: 'POST' as const, headers, body, expectBody: page };
  const rows = [];
  let errors = 0;
  let wrongPages = 0;
  const row = (arrivals: string, run: Awaited<ReturnType<typeof pacedLoad>>, statementsPerRequest: string) => {
    errors += run.result.errors + run.result.non2xx;
    return {
      arrivals,
      requests: run.result.requests.total,
      'served per second': Math.round(run.result.requests.total / run.elapsedSeconds),
      'p50 ms': run.latency.p50.toFixed(1),
      'p95 ms': run.latency.p95.toFixed(1),
      'p99 ms': run.latency.p99.toFixed(1),
      errors: run.result.errors + run.result.non2xx,
      'SQL statements per request': statementsPerRequest,
      'server RSS MiB': env.serverRssMiB(),
    };
  };
  for (const [arrivals, together] of [['spread evenly', 1], ['10 at once', 10]] as const) {
    // The statements are counted from the end of the lead-in, as the latencies are.
    let before: number | undefined;
    const counted = setTimeout(() => void env.statementCount().then((count) => (before = count), () => undefined), leadInSeconds * 1000);
    const run = await pacedLoad(options, rate, seconds, together, leadInSeconds);
    clearTimeout(counted);
    const after = await env.statementCount();
    rows.push(row(arrivals, run, before === undefined || after === undefined ? 'n/a' : ((after - before) / run.result.requests.total).toFixed(1)));
  }
  // During a sale: a checkout every 100 ms changes what the page shows, so answers are not shared
  // for long: most reads execute. Each answer must still be a whole page, without errors.
  const sale = { running: true, checkouts: 0 };
  const selling = (async () => {
    while (sale.running) {
      const offerId = session.offers[Math.floor(Math.random() * session.offers.length)]!.id;
      await env.gql(CHECKOUT, { input: { salesSessionId: session.id, customerRef: 'sale', idempotencyKey: randomUUID(), lines: [{ offerId, quantity: '1' }] } });
      sale.checkouts += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    const run = await pacedLoad({
      url: env.url,
      requests: [{
        method: 'POST',
        headers,
        body,
        onResponse: (status, answer) => {
          if (status === 200 && (!answer.includes('"offers"') || answer.includes('"errors"'))) wrongPages += 1;
        },
      }],
    }, rate, seconds, 1, leadInSeconds);
    rows.push(row(`spread evenly, during a sale (${Math.round(sale.checkouts / (seconds + leadInSeconds))} checkouts/s)`, run, "n/a (the sale's own run too)"));
  } finally {
    sale.running = false;
    await selling;
  }
  return {
    scenario: `Catalogue read: ${offers} offers with availability at ${rate} requests/s`,
    rows,
    checks: [{ name: 'no errors: every answer was the whole page', ok: errors === 0 && wrongPages === 0, detail: `${errors} errors, ${wrongPages} answers not a whole page` }],
  };
}

/**
 * What one request costs the server when nothing else is running: the main thread's CPU time and
 * the statements PostgreSQL ran, per request, over `count` requests one after another. A Node
 * server does its JavaScript on one thread, so under load this is what bounds its throughput.
 */
export async function costPerRequest(env: BenchEnvironment, count: number): Promise<ScenarioResult> {
  const { session } = await catalogue(env, 1, '100000000');
  const page = await catalogue(env, 500, '1000');
  const post = async (query: string, variables: Record<string, unknown> = {}, token: string | undefined = env.adminToken) => {
    const response = await fetch(env.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: Record<string, { customerOrder?: { id: string } | null }> };
  };
  let lastOrder = '';
  const checkoutOne = async () => {
    const body = await post(CHECKOUT, { input: { salesSessionId: session.id, customerRef: 'cost', idempotencyKey: randomUUID(), lines: [{ offerId: session.offers[0]!.id, quantity: '1' }] } });
    lastOrder = body.data?.checkout?.customerOrder?.id ?? '';
  };
  // Each group's steps run in turn, `count` times: a confirm needs the checkout before it.
  const groups: [string, () => Promise<unknown>][][] = [
    [['`{ __typename }`, anonymous', () => post('{ __typename }', {}, undefined)]],
    [['`{ __typename }`, with a token', () => post('{ __typename }')]],
    [['checkout (1 line)', checkoutOne], ['confirmPayment (of that checkout)', () => post(CONFIRM, { input: { customerOrderId: lastOrder } })]],
    // An unused variable of its own makes each request a different read: each executes.
    [['catalogue page, 500 offers, executed', () => post(CATALOGUE_PAGE, { id: page.session.id, nonce: randomUUID() }, undefined)]],
    // The same request again and again, nothing committed in between: the answer of the last execution.
    [['catalogue page, 500 offers, shared', () => post(CATALOGUE_PAGE, { id: page.session.id }, undefined)]],
  ];
  const rows = [];
  const checks = [];
  for (const steps of groups) {
    for (let i = 0; i < Math.max(3, count / 10); i += 1) for (const [, step] of steps) await step(); // warm up
    const cpu = steps.map(() => 0);
    const statements = steps.map(() => 0);
    for (let i = 0; i < count; i += 1) {
      for (const [j, [, step]] of steps.entries()) {
        const before = await env.statementCount();
        const cpuBefore = env.serverMainThreadCpuMs() ?? Number.NaN;
        await step();
        cpu[j]! += (env.serverMainThreadCpuMs() ?? Number.NaN) - cpuBefore;
        // Less the counting query itself, which the second reading sees.
        statements[j]! += ((await env.statementCount()) ?? Number.NaN) - (before ?? Number.NaN) - 1;
      }
    }
    for (const [j, [name]] of steps.entries()) {
      rows.push({
        request: name,
        'server main-thread CPU ms': Number.isNaN(cpu[j]!) ? 'n/a' : (cpu[j]! / count).toFixed(2),
        'SQL statements (incl. foreign-key checks)': Number.isNaN(statements[j]!) ? 'n/a' : (statements[j]! / count).toFixed(1),
      });
    }
  }
  checks.push({ name: 'every checkout placed an order', ok: lastOrder !== '', detail: lastOrder ? 'yes' : 'no order id' });
  return { scenario: `Cost per request: ${count} requests of each kind, one at a time`, rows, checks };
}

/** The load and the reference on their own, for the probes (`bench/probe-*.ts`) that measure one thing at a time. */
export { checkoutLoad as checkoutLoadForProbe, pacedLoad as pacedLoadForProbe, reference as referenceForProbe };
