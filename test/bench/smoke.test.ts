// A few seconds of every benchmark scenario, so the benchmark cannot rot: it must run end to end
// and its correctness checks (nothing oversold, ledger = levels, every event delivered) must pass.
// Speed is not asserted here; bench/RESULTS.md records it.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('npm run bench -- --smoke --statements', () => {
  it('runs every scenario and passes its checks', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--smoke', '--statements'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(output).not.toContain('FAILED');
    expect(code).toBe(0);
    for (const heading of ['Hot product', 'Uniform', 'Session close at scale', 'Session cancel', 'Fan-out', 'Cost per request', 'Catalogue read']) {
      expect(output).toContain(`### ${heading}`);
    }
    expect(output.match(/^- ok: /gm)?.length).toBeGreaterThanOrEqual(10);
    // --statements: each checkout run lists what it sent PostgreSQL, the checkout's write among it.
    expect(output).toMatch(/^#### 4 clients: statements by run \+ plan time/m);
    expect(output).toContain('SELECT place_customer_order');
  }, 120_000);
});
