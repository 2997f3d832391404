// npm run bench [-- --seconds 20 --smoke --workers 2 --only hot,uniform --statements --warmup 3 --out bench/RESULTS.md]
// Starts its own PostgreSQL and the server as a separate process, drives it over HTTP and
// WebSocket, and prints one markdown table per scenario, each against a plain-SQL reference.
import { writeFileSync } from 'node:fs';
import { cpus, totalmem, type as osType, release } from 'node:os';
import { parseArgs } from 'node:util';
import { startBenchEnvironment } from './environment.js';
import { catalogueRead, costPerRequest, fanOut, hotProduct, type ScenarioResult, sessionCancel, sessionClose, uniform, warmUp } from './scenarios.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
    only: { type: 'string' },
    workers: { type: 'string', default: '1' },
    // Seconds of unmeasured checkout load before the first checkout run (warmUp()).
    warmup: { type: 'string', default: '3' },
    // The statements each checkout run sent PostgreSQL, with their planning time (pg_stat_statements).
    statements: { type: 'boolean', default: false },
  },
});
const smoke = values.smoke;
const seconds = smoke ? 1 : Number(values.seconds);
const warmup = smoke ? 0.5 : Number(values.warmup);
/** The catalogue's load generator needs a second to start its visitors, whatever the warm-up (pacedLoad()). */
const catalogueLeadIn = Math.max(1, warmup);

function table(rows: Record<string, string | number>[]): string[] {
  const columns = Object.keys(rows[0] ?? {});
  return [
    `| ${columns.join(' | ')} |`,
    `| ${columns.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${columns.map((c) => row[c]).join(' | ')} |`),
  ];
}

export function markdown(result: ScenarioResult): string {
  const lines = [
    `### ${result.scenario}`,
    '',
    ...table(result.rows),
    '',
    ...result.checks.map((c) => `- ${c.ok ? 'ok' : 'FAILED'}: ${c.name} (${c.detail})`),
    '',
    ...(result.tables ?? []).flatMap((t) => [`#### ${t.title}`, '', ...table(t.rows), '']),
  ];
  return lines.join('\n');
}

const workers = Number(values.workers);
const poolSize = smoke ? 8 : 32;
const env = await startBenchEnvironment({ poolSize, workers, profileStatements: values.statements });
const results: ScenarioResult[] = [];
const wanted = (name: string) => !values.only || values.only.split(',').includes(name);
try {
  if (wanted('hot') || wanted('uniform')) await warmUp(env, smoke ? 4 : 32, warmup);
  if (wanted('hot')) results.push(await hotProduct(env, smoke ? [4] : [32, 64], seconds));
  if (wanted('uniform')) results.push(await uniform(env, smoke ? 20 : 1000, smoke ? 4 : 32, seconds));
  if (wanted('close')) results.push(await sessionClose(env, smoke ? [500] : [10_000, 100_000], smoke ? 4 : 20, smoke ? 10 : 200));
  if (wanted('cancel')) results.push(await sessionCancel(env, smoke ? [200] : [1_000, 10_000], smoke ? 10 : 200));
  if (wanted('fanout')) results.push(await fanOut(env, smoke ? 20 : 1000, smoke ? 3 : 20));
  if (wanted('cost')) results.push(await costPerRequest(env, smoke ? 5 : 200));
  if (wanted('catalogue')) results.push(await catalogueRead(env, smoke ? 50 : Number(process.env.OFFERS ?? 500), smoke ? 20 : 100, seconds, catalogueLeadIn));
} finally {
  await env.stop();
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${osType()} ${release()}, Node ${process.version}`;
const server = (workers === 1 ? `one process, ${poolSize} database connections` : `${workers} worker processes (WORKERS=${workers}), ${poolSize} database connections each`)
  + (wanted('hot') || wanted('uniform') ? `; ${warmup} s of unmeasured checkout load (and reference) before the checkout runs` : '')
  + (wanted('catalogue') ? `; ${catalogueLeadIn} s of unmeasured catalogue reads before each measured run, on the same connections` : '');
const report = [
  `## Benchmark (${new Date().toISOString().slice(0, 10)}, ${smoke ? 'smoke run' : `${seconds} s per run`})`,
  '',
  `Machine: ${machine}`,
  '',
  `Server: ${server}`,
  '',
  ...results.map(markdown),
].join('\n');
process.stdout.write(`${report}\n`);
if (values.out) writeFileSync(values.out, `${report}\n`);
const failed = results.flatMap((r) => r.checks).filter((c) => !c.ok);
if (failed.length > 0) {
  process.stderr.write(`${failed.length} checks failed\n`);
  process.exitCode = 1;
}
