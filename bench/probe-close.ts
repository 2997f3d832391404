// How long an early close (closeSalesSession), then a cancel (cancelSalesSession), waits while 32
// connections check out the session's one product: both take the session FOR UPDATE, which waits
// for every checkout holding it FOR KEY SHARE, and a checkout that arrives meanwhile does not
// queue behind them. `npx tsx bench/probe-close.ts`
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { startBenchEnvironment } from './environment.js';
import { catalogue } from './scenarios.js';

const CHECKOUT = `mutation ($input: CheckoutInput!) { checkout(input: $input) { customerOrder { id } userErrors { code } } }`;
const env = await startBenchEnvironment({ poolSize: 32, workers: 1 });
for (const [mutation, inputType] of [['closeSalesSession', 'CloseSalesSessionInput'], ['cancelSalesSession', 'CancelSalesSessionInput']] as const) {
  const { session } = await catalogue(env, 1, '10000000');
  const offerId = session.offers[0]!.id;
  let answeredAt: number | undefined;
  let placedAfter = 0;
  const done = autocannon({
    url: env.url,
    connections: 32,
    duration: 8,
    requests: [{
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${env.adminToken}` },
      setupRequest: (request) => ({
        ...request,
        body: JSON.stringify({ query: CHECKOUT, variables: { input: { salesSessionId: session.id, customerRef: 'probe', idempotencyKey: randomUUID(), lines: [{ offerId, quantity: '1' }] } } }),
      }),
      onResponse: (_status, body) => {
        if (answeredAt !== undefined && (JSON.parse(body) as { data?: { checkout: { customerOrder: unknown } } }).data?.checkout.customerOrder) placedAfter += 1;
      },
    }],
  });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const started = performance.now();
  const answer = await env.gql(`mutation ($input: ${inputType}!) { ${mutation}(input: $input) { salesSession { status } userErrors { code } } }`, { input: { salesSessionId: session.id } });
  answeredAt = performance.now();
  await done;
  // In flight as the close committed, placed before it: a later checkout is refused SESSION_NOT_OPEN.
  console.log(`${mutation}: answered in ${(answeredAt - started).toFixed(0)} ms under load, ${JSON.stringify(answer)}; checkouts answered with an order after it: ${placedAfter}`);
}
await env.stop();
