// Prints a bearer token for local use and tests, signed with the configured secret (JWT_SECRET, or
// the one a pilot generated under DATA_DIR). The token is alone on the last line.
//   npm run token -- --role admin
//   npm run token -- --role hub --hub <hubId>
//   npm run token -- --role producer --producer <producerId>
//   npm run token -- --role customer --hub <hubId> --customer <customerRef> [--expires 2h]
import { parseArgs } from 'node:util';
import { resolveSigningSecret } from '../src/auth/signing-secret.js';
import { type FoodhubClaims, signToken } from '../src/auth/tokens.js';
import { ConfigError, loadConfig } from '../src/config/config.js';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    hub: { type: 'string' },
    producer: { type: 'string' },
    customer: { type: 'string' },
    expires: { type: 'string', default: '12h' },
  },
});

// As jose reads it (a number and a unit: 30m, 12h, 7d): a typo is said here, not as its TypeError.
if (!/^\d+\s*(s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|d|day|days|w|week|weeks|y|yr|yrs|year|years)$/i.test(values.expires)) {
  fail(`--expires must be a number and a unit, e.g. 30m, 12h or 7d (got "${values.expires}")`);
}

let claims: FoodhubClaims;
switch (values.role) {
  case 'admin':
    claims = { role: 'admin' };
    break;
  case 'hub':
    claims = { role: 'hub', hubId: values.hub ?? fail('--role hub needs --hub <hubId>') };
    break;
  case 'producer':
    claims = { role: 'producer', producerId: values.producer ?? fail('--role producer needs --producer <producerId>') };
    break;
  case 'customer':
    claims = {
      role: 'customer',
      hubId: values.hub ?? fail('--role customer needs --hub <hubId>'),
      customerRef: values.customer ?? fail('--role customer needs --customer <customerRef>'),
    };
    break;
  default:
    fail('--role must be admin, hub, producer or customer');
}

try {
  const config = loadConfig();
  // Never a new secret here: a token signed with one the server does not have would be refused.
  const secret = resolveSigningSecret(config, { create: false }) ?? fail(
    config.nodeEnv === 'production'
      ? 'no JWT_SECRET is set: tokens are issued by your identity provider (JWKS_URL)'
      : `no JWT_SECRET is set and no secret was generated in ${config.dataDir}: run this with the server's DATA_DIR (or JWT_SECRET), after it has started once`,
  );
  const token = await signToken(secret, claims, { expiresIn: values.expires, issuer: config.jwtIssuer, audience: config.jwtAudience });
  process.stdout.write(`${token}\n`);
} catch (error) {
  fail(error instanceof ConfigError ? error.message : String(error));
}
