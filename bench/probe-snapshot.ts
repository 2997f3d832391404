// How often PostgreSQL's snapshot moves on an idle server (each move ends the sharing of answers),
// and which statements ran meanwhile: `npx tsx bench/probe-snapshot.ts [seconds]`
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchEnvironment } from './environment.js';
import { catalogue } from './scenarios.js';
const env = await startBenchEnvironment({ poolSize: 10, workers: 1, profileStatements: true });
await catalogue(env, 500, '1000');
await sleep(2000);
await env.db.query('SELECT pg_stat_statements_reset()');
const seconds = Number(process.argv[2] ?? 5);
let last = '';
let moves = 0;
for (let i = 0; i < seconds * 50; i++) {
  const { rows } = await env.db.query<{ s: string }>('SELECT pg_current_snapshot()::text AS s');
  if (last && rows[0]!.s !== last) { moves += 1; console.log(((i * 20) / 1000).toFixed(2), rows[0]!.s); }
  last = rows[0]!.s;
  await sleep(20);
}
console.log('snapshot moves in', seconds, 's:', moves);
const { rows } = await env.db.query(`SELECT calls, left(regexp_replace(query, '\\s+', ' ', 'g'), 140) AS q FROM pg_stat_statements ORDER BY calls DESC LIMIT 15`);
for (const r of rows) console.log(r.calls, r.q);
await env.stop();
