import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTokenVerifier } from '../../src/auth/tokens.js';

/**
 * README ("Who may do what"): a key removed from JWKS_URL (rotated out after a leak, say) stops
 * being accepted within a minute: neither the key set nor a token verified with it is kept longer.
 */
describe('a key removed from JWKS_URL', () => {
  let jwks: Server;
  let url: string;
  let served: JWK[] = [];
  let fetches = 0;
  beforeAll(async () => {
    jwks = createServer((_req, res) => {
      fetches += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: served }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise((resolve) => jwks.close(resolve)));
  afterEach(() => vi.restoreAllMocks());

  it('stops being accepted within a minute of its removal', async () => {
    const leaked = await generateKeyPair('ES256');
    const next = await generateKeyPair('ES256');
    const jwk = async (key: Awaited<ReturnType<typeof generateKeyPair>>['publicKey'], kid: string) => ({ ...(await exportJWK(key)), kid, alg: 'ES256', use: 'sig' });
    served = [await jwk(leaked.publicKey, 'old'), await jwk(next.publicKey, 'new')];
    const verify = createTokenVerifier({ jwksUrl: url, audience: 'foodhub' });
    const sign = (jti: string) =>
      new SignJWT({ role: 'admin' }).setProtectedHeader({ alg: 'ES256', kid: 'old' }).setAudience('foodhub').setJti(jti).setExpirationTime('1h').sign(leaked.privateKey);

    const before = await sign('before');
    expect(await verify(`Bearer ${before}`)).toEqual({ kind: 'admin' });

    // The provider rotates the leaked key out.
    served = [await jwk(next.publicKey, 'new')];
    // A minute later (the process clock: what jose's cache and the token cache both read).
    const real = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => real() + 60_000);

    // A fresh token signed with the removed key (not one the token cache remembers).
    const outcome = await verify(`Bearer ${await sign('after-removal')}`).then((actor) => actor, (error: Error) => error.message);
    // The set is read again, without the key, and the token refused.
    // Nor is the token verified before the removal still remembered.
    const remembered = await verify(`Bearer ${before}`).then((actor) => actor, (error: Error) => error.message);
    expect({ fetches, outcome, remembered }).toEqual({ fetches: 2, outcome: expect.stringMatching(/invalid token/), remembered: expect.stringMatching(/invalid token/) });
  });
});
