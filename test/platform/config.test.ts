import { describe, expect, it } from 'vitest';
import { Duration } from 'luxon';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('configuration', () => {
  it('has defaults that run a pilot with no settings at all', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 4000, workers: 1, databaseUrl: undefined, dataDir: '.data', databasePoolSize: 20 });
    expect(config.holdDuration.as('minutes')).toBe(15);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads what an operator sets', () => {
    const config = loadConfig({ PORT: '8080', DATABASE_URL: 'postgres://u:p@db:5432/foodhub', HOLD_DURATION: 'PT10M' });
    expect(config).toMatchObject({ port: 8080, databaseUrl: 'postgres://u:p@db:5432/foodhub' });
    expect(config.holdDuration.as('minutes')).toBe(10);
  });

  it('requires an audience with an identity provider, so its tokens for other applications are not taken', () => {
    expect(() => loadConfig({ JWKS_URL: 'https://idp.example.org/jwks' })).toThrow(/JWT_AUDIENCE must be set with JWKS_URL/);
    expect(loadConfig({ JWKS_URL: 'https://idp.example.org/jwks', JWT_AUDIENCE: 'foodhub' }).jwtAudience).toBe('foodhub');
    // The signing keys are fetched over https in production, or who the server trusts could be swapped on the way.
    expect(() => loadConfig({ NODE_ENV: 'production', JWKS_URL: 'http://idp.example.org/jwks', JWT_AUDIENCE: 'foodhub' })).toThrow(/JWKS_URL must be an https/);
    expect(loadConfig({ NODE_ENV: 'production', JWKS_URL: 'https://idp.example.org/jwks', JWT_AUDIENCE: 'foodhub' }).jwksUrl).toBe('https://idp.example.org/jwks');
    // However it is spelt: the check sees the URL as it will be fetched.
    for (const spelling of ['HTTP://idp.example.org/jwks', ' http://idp.example.org/jwks']) {
      expect(() => loadConfig({ NODE_ENV: 'production', JWKS_URL: spelling, JWT_AUDIENCE: 'foodhub' })).toThrow(/JWKS_URL must be an https/);
    }
    expect(loadConfig({ NODE_ENV: 'production', JWKS_URL: 'HTTPS://IdP.example.org/jwks', JWT_AUDIENCE: 'foodhub' }).jwksUrl).toBe('https://idp.example.org/jwks');
  });

  it('refuses a hold or a retention longer than an instant can be moved by (ten years)', () => {
    for (const name of ['HOLD_DURATION', 'EVENT_RETENTION', 'IDEMPOTENCY_KEY_RETENTION']) {
      expect(() => loadConfig({ [name]: 'P300000Y' })).toThrow(new RegExp(`${name} must be an ISO 8601 duration from`));
    }
    expect(loadConfig({ HOLD_DURATION: 'P7D' }).holdDuration.as('days')).toBe(7);
  });

  it('bounds hold extensions at four holds unless told, and refuses a bound shorter than a hold', () => {
    expect(loadConfig({}).holdMaxDuration.as('minutes')).toBe(60);
    expect(loadConfig({ HOLD_DURATION: 'PT2H' }).holdMaxDuration.as('hours')).toBe(8);
    expect(loadConfig({ HOLD_DURATION: 'P3000D' }).holdMaxDuration.as('days')).toBe(3660);
    expect(loadConfig({ HOLD_MAX_DURATION: 'PT30M' }).holdMaxDuration.as('minutes')).toBe(30);
    expect(() => loadConfig({ HOLD_DURATION: 'PT20M', HOLD_MAX_DURATION: 'PT10M' })).toThrow(/HOLD_MAX_DURATION must not be shorter than HOLD_DURATION/);
    // A bad HOLD_DURATION is reported alone, not compared with the bound as its fallback.
    expect(() => loadConfig({ HOLD_DURATION: 'bad', HOLD_MAX_DURATION: 'PT10M' })).toThrow(/^(?![\s\S]*HOLD_MAX_DURATION)[\s\S]*HOLD_DURATION must be an ISO 8601 duration/);
  });

  it('reads CORS origins as browsers send them, and refuses what is not an origin', () => {
    expect(loadConfig({ CORS_ORIGINS: 'https://Shop.Example.org/, http://localhost:5173' }).corsOrigins).toEqual(['https://shop.example.org', 'http://localhost:5173']);
    expect(() => loadConfig({ CORS_ORIGINS: 'https://shop.example.org/basket' })).toThrow(/CORS_ORIGINS must list origins/);
    expect(() => loadConfig({ CORS_ORIGINS: 'shop.example.org' })).toThrow(/CORS_ORIGINS must list origins/);
  });

  it('refuses a timer longer than Node and PostgreSQL can keep (24 days), rather than letting it fire at once', () => {
    expect(() => loadConfig({ SCHEDULER_INTERVAL: 'P30D' })).toThrow(/SCHEDULER_INTERVAL must be an ISO 8601 duration from PT0.01S to P24D/);
    expect(() => loadConfig({ DATABASE_STATEMENT_TIMEOUT: 'P1Y' })).toThrow(ConfigError);
    expect(loadConfig({ SCHEDULER_INTERVAL: 'P24D' }).schedulerInterval.as('days')).toBe(24);
  });

  it('reads every duration in whole milliseconds, as the timers, the HTTP server and the pool take them', () => {
    const names = ['HOLD_DURATION', 'HOLD_MAX_DURATION', 'DATABASE_ACQUIRE_TIMEOUT', 'DATABASE_STATEMENT_TIMEOUT', 'SCHEDULER_INTERVAL', 'EVENT_RETENTION', 'IDEMPOTENCY_KEY_RETENTION', 'HTTP_REQUEST_TIMEOUT'];
    const config = loadConfig(Object.fromEntries(names.map((name) => [name, 'P1.1D'])));
    const durations = Object.entries(config).filter((entry): entry is [string, Duration] => Duration.isDuration(entry[1]));
    expect(durations.length).toBeGreaterThanOrEqual(names.length);
    // 1.1 days is 95,040,000 ms; in floating point it comes out a hair over.
    expect(Object.fromEntries(durations.map(([key, d]) => [key, d.toMillis()]))).toEqual(Object.fromEntries(durations.map(([key]) => [key, 95_040_000])));
  });

  it('refuses a DATABASE_URL the driver could not use, saying what is wrong and not echoing the password', () => {
    const refusal = (url: string) => {
      try {
        loadConfig({ DATABASE_URL: url });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems.join('\n');
      }
      return undefined;
    };
    expect(refusal('postgres://u:secret@db.example.org:5432')).toMatch(/DATABASE_URL must name the database/);
    expect(refusal('postgres://u:secret@db.example.org:5432/')).toMatch(/DATABASE_URL must name the database/);
    expect(refusal('postgres://u:50%off@db.example.org/foodhub')).toMatch(/DATABASE_URL has a % that is not a percent-escape.*%25/);
    expect(refusal('postgres://u:p@db.example.org/food%zzhub')).toMatch(/not a percent-escape/);
    expect(refusal('postgres://u:50%off@db.example.org/foodhub')).not.toContain('50%off');
    // What the driver takes: an escaped password, a socket folder as the host parameter.
    expect(refusal('postgres://u:50%25off@db.example.org/foodhub')).toBeUndefined();
    expect(refusal('postgres:///foodhub?host=/run/postgresql')).toBeUndefined();
    // No host: the driver takes PGHOST, PGUSER and PGPASSWORD, as psql does.
    expect(refusal('postgres:///foodhub')).toBeUndefined();
    expect(loadConfig({ DATABASE_URL: 'postgresql://u:50%25off@db.example.org/foodhub' }).databaseUrl).toBe('postgresql://u:50%25off@db.example.org/foodhub');
  });

  it('reports every bad value at once', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', HOLD_DURATION: '15 minutes', LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(4);
    for (const name of ['PORT', 'DATABASE_URL', 'HOLD_DURATION', 'LOG_LEVEL']) {
      expect(problems.some((p) => p.startsWith(name))).toBe(true);
    }
  });
});
