// The server's main-thread CPU per request for one query (default `{ __typename }`), 4 connections:
// `npx tsx bench/probe-empty.ts ['{ query }']`
import autocannon from 'autocannon';
import { startBenchEnvironment } from './environment.js';
const env = await startBenchEnvironment({ poolSize: 10, workers: 1 });
const query = process.argv[2] ?? '{ __typename }';
const run = (amount: number) => autocannon({ url: env.url, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${env.adminToken}` }, body: JSON.stringify({ query }), connections: 4, amount });
await run(2000);
const c0 = env.serverMainThreadCpuMs()!;
const r = await run(20000);
console.log('cpu ms/req', ((env.serverMainThreadCpuMs()! - c0) / 20000).toFixed(3), 'non2xx', r.non2xx, 'rps', r.requests.average);
await env.stop();
