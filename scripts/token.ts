// Prints a bearer token for local use and tests, signed with the configured secret (JWT_SECRET, or
// the one a pilot generated under DATA_DIR). The token is alone on the last line.
//   npm run token -- --role admin
//   npm run token -- --role hub --hub <hubId>
//   npm run token -- --role producer --producer <producerId>
//   npm run token -- --role customer --hub <hubId> --customer <customerRef> [--expires 2h]
import { resolveSigningSecret } from '../src/auth/signing-secret.js';
import { readTokenRequest, TokenRequestError } from '../src/auth/token-request.js';
import { signToken } from '../src/auth/tokens.js';
import { ConfigError, loadConfig } from '../src/config/config.js';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

let request;
try {
  request = readTokenRequest(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof TokenRequestError)) throw error;
  fail(error.message);
}

try {
  const config = loadConfig();
  // Never a new secret here: a token signed with one the server does not have would be refused.
  const secret = resolveSigningSecret(config, { create: false }) ?? fail(
    config.nodeEnv === 'production'
      ? 'no JWT_SECRET is set: tokens are issued by your identity provider (JWKS_URL)'
      : `no JWT_SECRET is set and no secret was generated in ${config.dataDir}: run this with the server's DATA_DIR (or JWT_SECRET), after it has started once`,
  );
  const token = await signToken(secret, request.claims, { expiresIn: request.expiresIn, issuer: config.jwtIssuer, audience: config.jwtAudience });
  process.stdout.write(`${token}\n`);
} catch (error) {
  fail(error instanceof ConfigError ? error.message : String(error));
}
