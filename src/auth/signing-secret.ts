import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/config.js';

/**
 * The HS256 secret: JWT_SECRET when set. A pilot started with no settings gets one generated and
 * kept in DATA_DIR/jwt-secret (readable by the owner only), which `npm run token` also reads, so
 * tokens work out of the box without authorisation ever being off. Production requires a setting.
 */
export function resolveSigningSecret(config: Config, { create = true }: { create?: boolean } = {}): string | undefined {
  if (config.jwtSecret) return config.jwtSecret;
  if (config.nodeEnv === 'production') return undefined;
  const file = join(config.dataDir, 'jwt-secret');
  if (!existsSync(file)) {
    if (!create) return undefined;
    mkdirSync(config.dataDir, { recursive: true });
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
  }
  return readFileSync(file, 'utf8').trim();
}
