// A socket's token checked again while the socket lives (SocketTokenCheck): every half minute,
// events or not, afresh (not from the tokens remembered), and the events of a check's first
// moments wait for it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SocketTokenCheck } from '../../src/auth/socket-token.js';
import { AuthenticationError, createTokenVerifier, KeysUnavailableError, type TokenVerifier } from '../../src/auth/tokens.js';
import { waitFor } from '../support/wait.js';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const refusing: TokenVerifier = async () => {
  throw new AuthenticationError('invalid token: signature verification failed');
};

describe('SocketTokenCheck', () => {
  it('withholds every copy of the event that set off a check that then refuses the token: one per subscription of the socket', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    // The token no longer verifies: the check says so 10 ms in.
    const verify: TokenVerifier = () => new Promise((_resolve, reject) => setTimeout(() => reject(new AuthenticationError('invalid token')), 10));
    const onInvalid = vi.fn();
    const check = new SocketTokenCheck(verify, 'Bearer t', onInvalid);
    vi.setSystemTime(Date.now() + 31_000);
    // One event reaches both subscriptions of the socket: graphql-ws asks for each.
    const first = check.allows();
    const second = check.allows();
    await vi.advanceTimersByTimeAsync(300);
    expect({ first: await first, second: await second, closed: onInvalid.mock.calls.length }).toEqual({ first: false, second: false, closed: 1 });
    check.stop();
  });

  it('closes a socket that is sent no event too, and checks no more after', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const verify = vi.fn(refusing);
    const onInvalid = vi.fn();
    new SocketTokenCheck(verify, 'Bearer t', onInvalid);
    await vi.advanceTimersByTimeAsync(5 * 60_000);
    expect({ closed: onInvalid.mock.calls.length, checks: verify.mock.calls.length }).toEqual({ closed: 1, checks: 1 });
  });

  it('checks again a few seconds after a check that could not tell (the keys could not be fetched), not a period later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    let outage = true;
    const verify = vi.fn<TokenVerifier>(async () => {
      throw outage ? new KeysUnavailableError(new Error('503 from the provider')) : new AuthenticationError('invalid token');
    });
    const onInvalid = vi.fn();
    const check = new SocketTokenCheck(verify, 'Bearer t', onInvalid);
    // The first check (20 to 25 s on) meets a provider that is down for a moment: the socket goes on.
    await vi.advanceTimersByTimeAsync(25_000);
    expect({ checks: verify.mock.calls.length, closed: onInvalid.mock.calls.length, allowed: await check.allows() }).toEqual({ checks: 1, closed: 0, allowed: true });
    // The provider is back, without the key: the next check comes seconds later, not 20 to 25.
    outage = false;
    await vi.advanceTimersByTimeAsync(6_000);
    expect({ checks: verify.mock.calls.length, closed: onInvalid.mock.calls.length }).toEqual({ checks: 2, closed: 1 });
    check.stop();
  });

  it('does not hold up the events after a check that hangs: only those of its first moments wait', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    const verify: TokenVerifier = () => new Promise(() => undefined); // the provider never answers
    const check = new SocketTokenCheck(verify, 'Bearer t', () => undefined);
    vi.setSystemTime(Date.now() + 31_000);
    const first = check.allows();
    await vi.advanceTimersByTimeAsync(200);
    // Later events are answered at once, with no timer to wait for.
    const later = await Promise.race([check.allows(), Promise.resolve('waits')]);
    expect({ first: await first, later }).toEqual({ first: true, later: true });
    check.stop();
  });
});

describe('SocketTokenCheck with a key taken out of JWKS_URL', () => {
  let jwks: Server;
  let url: string;
  let served: JWK[] = [];
  beforeAll(async () => {
    jwks = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: served })));
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise((resolve) => jwks.close(resolve)));

  it('refuses the socket within a minute, though its storefront\'s requests keep the token remembered', async () => {
    const leaked = await generateKeyPair('ES256');
    served = [{ ...(await exportJWK(leaked.publicKey)), kid: 'old', alg: 'ES256', use: 'sig' }];
    const sign = (jti: string) =>
      new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'ES256', kid: 'old' }).setAudience('foodhub').setJti(jti).setExpirationTime('1h').sign(leaked.privateKey);
    const token = `Bearer ${await sign('storefront')}`; // one token: a storefront's socket and its requests
    const verify = createTokenVerifier({ jwksUrl: url, audience: 'foodhub' });
    const start = Date.now();
    let at = 0; // seconds from the key's removal
    vi.spyOn(Date, 'now').mockImplementation(() => start + at * 1000);
    at = -0.3; await verify(token); // the storefront's socket connects: a key set fetched, with the key
    const onInvalid = vi.fn();
    const check = new SocketTokenCheck(verify, token, onInvalid);
    at = 0; served = []; // the key is taken out (it leaked)
    // A request of the storefront's, with the same token, verified with that set (not 20 s old yet):
    // remembered until 49.6.
    at = 19.6; await verify(token, { fresh: true });
    // The socket's next event, after a quiet spell: the token is remembered, but the check is afresh.
    at = 44.5;
    await check.allows();
    await waitFor('the socket to be closed', async () => (onInvalid.mock.calls.length > 0 ? true : undefined));
    expect(onInvalid.mock.calls.length).toBe(1);
    check.stop();
  });
});
