import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedLogs, startTestApp, type TestApp } from '../support/test-app.js';

describe('unexpected errors', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { LOG_LEVEL: 'silent' } }); // the failure below is logged on purpose
  });
  afterAll(() => t.stop());

  it('reach the client as a stable code, with no message internals or stack trace', async () => {
    // Break the database under the server: the failure is real, and not the client's fault.
    await t.db.query('ALTER TABLE hub RENAME TO hub_gone');
    const response = await t.api.request('mutation { createHub(input: { name: "Hub A" }) { hub { id } userErrors { code } } }');
    expect(response.errors).toEqual([{ message: 'Internal server error', path: ['createHub'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    expect(JSON.stringify(response)).not.toMatch(/stack|hub_gone|relation|sql/i);
    await t.db.query('ALTER TABLE hub_gone RENAME TO hub');
  });

  // Raised by a trigger: PgBouncer is not part of the test setup, and a real deadlock's timing is
  // the business of the tests that make one.
  it.each([
    // PgBouncer answers a query it could not place (a pool paused for a failover, query_wait_timeout) with 08P01.
    ["PgBouncer's pooler error", '08P01', 'query_wait_timeout'],
    // A deadlock's victim was rolled back whole: the same request again is what PostgreSQL asks for.
    ["a deadlock's victim", '40P01', 'deadlock detected'],
  ])('call %s (%s) a request to retry', async (_name, sqlstate, message) => {
    await t.db.query(`CREATE FUNCTION raise_it() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION '${message}' USING ERRCODE = '${sqlstate}'; END $$`);
    await t.db.query('CREATE TRIGGER raise_it BEFORE INSERT ON hub FOR EACH ROW EXECUTE FUNCTION raise_it()');
    try {
      const response = await t.api.request('mutation { createHub(input: { name: "Hub B" }) { hub { id } userErrors { code } } }');
      expect(response.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    } finally {
      await t.db.query('DROP TRIGGER raise_it ON hub; DROP FUNCTION raise_it()');
    }
  });

  it('leave client mistakes with their own code and message', async () => {
    const response = await t.api.request('{ producer { id } }');
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(response.errors?.[0]?.message).toContain('argument "id"');
  });

  it('report the database as healthy on /health', async () => {
    const response = await fetch(t.app.url.replace('/graphql', '/health'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});

describe('requests Apollo refuses before running them', () => {
  let t: TestApp;
  const logs = capturedLogs('warn');
  beforeAll(async () => {
    t = await startTestApp({ logger: logs.logger });
  });
  afterAll(() => t.stop());

  it('answer a persisted query the server cannot use as the client\'s mistake, logging no error', async () => {
    const query = '{ __typename }';
    const cases = [
      { persistedQuery: { version: 1, sha256Hash: 'not-the-hash' }, message: /does not match/ },
      { persistedQuery: { version: 2, sha256Hash: createHash('sha256').update(query).digest('hex') }, message: /version/ },
    ];
    for (const { persistedQuery, message } of cases) {
      const logged = logs.lines.length;
      const response = await fetch(t.app.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, extensions: { persistedQuery } }) });
      const body = (await response.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(response.status).toBe(400);
      expect(body.errors).toHaveLength(1);
      expect(body.errors[0]!.extensions.code).toBe('BAD_REQUEST');
      expect(body.errors[0]!.message).toMatch(message);
      // Anyone can send these, without a token: they must not read as a server fault in the logs.
      expect(logs.lines.slice(logged).filter((l) => (l.level as number) >= 50)).toEqual([]);
    }
  });
});
