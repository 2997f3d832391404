// CPU of each of the server's threads over a hot-product run (name from /proc/<pid>/task/<tid>/comm).
import { readdirSync, readFileSync } from 'node:fs';
import { startBenchEnvironment } from './environment.js';
import { catalogue, checkoutLoadForProbe } from './scenarios.js';
const env = await startBenchEnvironment({ poolSize: 32, workers: 1 });
const threads = (pid: number) => new Map(readdirSync(`/proc/${pid}/task`).map((tid) => {
  const s = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return [`${tid} ${readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()}`, (Number(f[11]) + Number(f[12])) * 10] as const;
}));
const { session } = await catalogue(env, Number(process.env.PRODUCTS ?? 1), '10000000');
const a = threads(env.serverPid);
const r = await checkoutLoadForProbe(env, session.id, session.offers.map((o) => o.id), 32, 8);
const b = threads(env.serverPid); const holds = r.throughput * 8;
console.log('holds/s', Math.round(r.throughput));
for (const [k, v] of b) { const d = v - (a.get(k) ?? 0); if (d > 0) console.log(k.padEnd(28), String(d).padStart(6), 'ms', (d / holds).toFixed(3), 'ms/hold'); }
await env.stop();
