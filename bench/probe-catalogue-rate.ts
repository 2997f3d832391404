// The catalogue read at a steady rate, with when each slow answer came: are they periodic (runs
// every SHARED_ANSWER_MAX_AGE_MS, GC) or spread out?
// `WARMUP=3 TOGETHER=1 SLOWEST=15 npx tsx bench/probe-catalogue-rate.ts [rate] [seconds]`
import { startBenchEnvironment } from './environment.js';
import { catalogue, pacedLoadForProbe } from './scenarios.js';
const env = await startBenchEnvironment({ poolSize: 32, workers: 1 });
const page = await catalogue(env, Number(process.env.OFFERS ?? 500), '1000');
const query = `query ($id: ID!) { salesSession(id: $id) { status offers { id available price { amount currency } product { name unit producer { name } } } } }`;
const rate = Number(process.argv[2] ?? 100);
const seconds = Number(process.argv[3] ?? 10);
const options = { url: env.url, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables: { id: page.session.id } }) };
// WARMUP seconds first, unmeasured, as the benchmark does: V8 compiling the page's path is not the tail.
const { answers, latency } = await pacedLoadForProbe(options, rate, seconds, Number(process.env.TOGETHER ?? 1), Number(process.env.WARMUP ?? 3));
console.log('n', answers.length, 'p50', latency.p50.toFixed(1), 'p95', latency.p95.toFixed(1), 'p99', latency.p99.toFixed(1), 'max', Math.max(...answers.map((a) => a.ms)).toFixed(1));
console.log('slowest:', answers.sort((a, b) => b.ms - a.ms).slice(0, Number(process.env.SLOWEST ?? 15)).map((s) => `${(s.at / 1000).toFixed(2)}s:${s.ms.toFixed(0)}ms`).join(' '));
await env.stop();
