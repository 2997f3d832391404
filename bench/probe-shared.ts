// The server's main-thread CPU per shared catalogue answer (same query, same variables, nothing
// committed): what a request costs when the page is not executed. `npx tsx bench/probe-shared.ts [offers]`
import autocannon from 'autocannon';
import { startBenchEnvironment } from './environment.js';
import { catalogue } from './scenarios.js';
const env = await startBenchEnvironment({ poolSize: 10, workers: 1 });
const page = await catalogue(env, Number(process.argv[2] ?? 500), '1000');
const query = `query ($id: ID!) { salesSession(id: $id) { status offers { id available price { amount currency } product { name unit producer { name } } } } }`;
const run = (amount: number) => autocannon({ url: env.url, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables: { id: page.session.id } }), connections: 4, amount });
await run(2000);
const c0 = env.serverMainThreadCpuMs()!;
const s0 = await env.statementCount();
const n = 10000;
const r = await run(n);
console.log('cpu ms/req', ((env.serverMainThreadCpuMs()! - c0) / n).toFixed(3), 'statements/req', (((await env.statementCount())! - s0!) / n).toFixed(2), 'non2xx', r.non2xx, 'rps', r.requests.average);
await env.stop();
