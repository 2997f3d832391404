// The catalogue read at a steady rate, with when each slow answer came: are they periodic (runs
// every SHARED_ANSWER_MAX_AGE_MS, GC) or spread out? `npx tsx bench/probe-catalogue-rate.ts [rate] [seconds]`
import autocannon from 'autocannon';
import { startBenchEnvironment } from './environment.js';
import { catalogue } from './scenarios.js';
const env = await startBenchEnvironment({ poolSize: 32, workers: 1 });
const page = await catalogue(env, 500, '1000');
const query = `query ($id: ID!) { salesSession(id: $id) { status offers { id available price { amount currency } product { name unit producer { name } } } } }`;
const rate = Number(process.argv[2] ?? 100);
const seconds = Number(process.argv[3] ?? 10);
const samples: { at: number; ms: number }[] = [];
const t0 = performance.now();
await new Promise<void>((resolve, reject) => {
  const instance = autocannon({ url: env.url, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables: { id: page.session.id } }), connections: Number(process.env.CONNS ?? 10), overallRate: rate, duration: seconds }, (error) => (error ? reject(error) : resolve()));
  instance.on('response', (_c: unknown, _s: number, _b: number, ms: number) => samples.push({ at: performance.now() - t0, ms }));
});
const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!.toFixed(1);
console.log('n', samples.length, 'p50', pct(50), 'p90', pct(90), 'p95', pct(95), 'p99', pct(99), 'max', pct(100));
console.log('slowest:', samples.sort((a, b) => b.ms - a.ms).slice(0, 15).map((s) => `${(s.at / 1000).toFixed(2)}s:${s.ms.toFixed(0)}ms`).join(' '));
await env.stop();
