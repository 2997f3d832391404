// A storefront's sockets and requests share one token: when its memory lapses they all ask at
// once, and one verification answers them all (createTokenVerifier()).
import { afterEach, describe, expect, it, vi } from 'vitest';

/** Counts signature verifications. */
const calls = vi.hoisted(() => ({ jwtVerify: 0 }));
vi.mock('jose', async (importOriginal) => {
  const jose = await importOriginal<typeof import('jose')>();
  return { ...jose, jwtVerify: (...args: Parameters<typeof jose.jwtVerify>) => { calls.jwtVerify += 1; return jose.jwtVerify(...args); } };
});

// Test files share their worker's modules (vitest.config.ts: isolate false): an earlier file may
// have loaded tokens.js with the real jose. Loaded afresh here, it takes the counting one.
vi.resetModules();
const { createTokenVerifier, signToken } = await import('../../src/auth/tokens.js');
const { SocketTokenCheck } = await import('../../src/auth/socket-token.js');

describe('verifying a token many ask for at once', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('checks its signature once, not once per asker, when the remembered token lapses, and gives each the answer', async () => {
    const secret = 'x'.repeat(40);
    const verify = createTokenVerifier({ secret });
    const hubId = '00000000-0000-4000-8000-000000000001';
    const authorization = `Bearer ${await signToken(secret, { role: 'hub', hubId })}`;
    await verify(authorization);
    const real = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => real() + 31_000); // the half minute it is remembered has passed
    calls.jwtVerify = 0;
    const answers = await Promise.all(Array.from({ length: 500 }, () => verify(authorization)));
    expect({ answers: new Set(answers.map((a) => JSON.stringify(a))), signatureChecks: calls.jwtVerify })
      .toEqual({ answers: new Set([JSON.stringify({ kind: 'hub', hubId })]), signatureChecks: 1 });
    // A bad token is refused to each asker, and checked once too.
    calls.jwtVerify = 0;
    const refusals = await Promise.all(Array.from({ length: 3 }, () => verify('Bearer not.a.jwt').then(() => 'accepted', (e: Error) => e.message)));
    expect({ refusals: refusals.map((r) => /invalid token/.test(r)), signatureChecks: calls.jwtVerify }).toEqual({ refusals: [true, true, true], signatureChecks: 1 });
  });

  it("checks a token many sockets share (a storefront's) about once a round of checks (every 20 to 25 s), not once per socket", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const secret = 'x'.repeat(40);
    const verify = createTokenVerifier({ secret });
    const authorization = `Bearer ${await signToken(secret, { role: 'admin' })}`;
    // 200 sockets connecting over two seconds.
    const checks = [];
    for (let i = 0; i < 200; i += 1) {
      checks.push(new SocketTokenCheck(verify, authorization, () => undefined));
      await vi.advanceTimersByTimeAsync(10);
    }
    calls.jwtVerify = 0;
    await vi.advanceTimersByTimeAsync(30_000);
    for (const check of checks) check.stop();
    // Their checks fall within seconds of each other, and share what was verified in the last few.
    expect(calls.jwtVerify).toBeGreaterThan(0);
    expect(calls.jwtVerify).toBeLessThanOrEqual(2);
  });
});
