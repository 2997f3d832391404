// How the server's main thread spends a hot-product run (/proc schedstat): on CPU, runnable but
// waiting for a CPU, or asleep, and its context switches.
import { readFileSync } from 'node:fs';
import { startBenchEnvironment } from './environment.js';
import { catalogue, checkoutLoadForProbe } from './scenarios.js';
const env = await startBenchEnvironment({ poolSize: 32, workers: 1 });
const sched = (pid: number) => { const [run, wait, slices] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number); const st = readFileSync(`/proc/${pid}/status`, 'utf8'); const v = Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(st)![1]); const nv = Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(st)![1]); return { run: run! / 1e6, wait: wait! / 1e6, slices: slices!, v, nv }; };
// The whole machine's idle share over the run (/proc/stat: idle + iowait over all fields).
const idle = () => { const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number); return { idle: f[3]! + f[4]!, all: f.reduce((a, b) => a + b, 0) }; };
const { session } = await catalogue(env, Number(process.env.PRODUCTS ?? 1), '10000000');
for (let i = 0; i < 2; i++) {
  const a = sched(env.serverPid); const i0 = idle(); const t0 = Date.now();
  const r = await checkoutLoadForProbe(env, session.id, session.offers.map((o) => o.id), 32, 8);
  const b = sched(env.serverPid); const i1 = idle(); const wall = Date.now() - t0; const holds = r.throughput * 8;
  console.log(`holds/s ${Math.round(r.throughput)} wall ${wall} ms, machine idle ${((100 * (i1.idle - i0.idle)) / (i1.all - i0.all)).toFixed(0)}%: main thread on CPU ${(b.run - a.run).toFixed(0)} ms, runnable-waiting ${(b.wait - a.wait).toFixed(0)} ms, voluntary ${b.v - a.v}, involuntary ${b.nv - a.nv} switches; per hold: cpu ${((b.run - a.run) / holds).toFixed(2)} ms, waiting ${((b.wait - a.wait) / holds).toFixed(2)} ms, involuntary ${((b.nv - a.nv) / holds).toFixed(1)}`);
}
await env.stop();
