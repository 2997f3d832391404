// How each table was read during a few seconds of hot-product checkouts (pg_stat_user_tables):
// sequential scans of a table that grows with the orders mean a plan that slows with every sale.
// `npx tsx bench/probe-scans.ts`
import { startBenchEnvironment } from './environment.js';
import { catalogue, checkoutLoadForProbe } from './scenarios.js';
const env = await startBenchEnvironment({ poolSize: 32, workers: 1 });
const { session } = await catalogue(env, 1, '100000000');
const snap = async () => (await env.db.query(`SELECT relname, seq_scan, seq_tup_read, idx_scan, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_live_tup, n_dead_tup FROM pg_stat_user_tables ORDER BY relname`)).rows;
await checkoutLoadForProbe(env, session.id, [session.offers[0]!.id], 32, 3);
await new Promise((r) => setTimeout(r, 800));
const before = new Map((await snap()).map((r) => [r.relname, r]));
const res = await checkoutLoadForProbe(env, session.id, [session.offers[0]!.id], 32, 5);
await new Promise((r) => setTimeout(r, 800));
console.log('holds', res.held);
for (const r of await snap()) {
  const b = before.get(r.relname) ?? {};
  const d = (k: string) => Number(r[k]) - Number(b[k] ?? 0);
  if (d('seq_scan') || d('idx_scan') || d('n_tup_ins') || d('n_tup_upd')) console.log(r.relname.padEnd(28), 'seq', d('seq_scan'), 'seqtup', d('seq_tup_read'), 'idx', d('idx_scan'), 'ins', d('n_tup_ins'), 'upd', d('n_tup_upd'), 'hot', d('n_tup_hot_upd'), 'live', r.n_live_tup, 'dead', r.n_dead_tup);
}
await env.stop();
