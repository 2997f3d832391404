import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.js';

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

  it("call PgBouncer's pooler errors (08P01) an outage to retry", async () => {
    // PgBouncer answers a query it could not place (a pool paused for a failover, query_wait_timeout)
    // with 08P01; raised here by a trigger, as PgBouncer is not part of the test setup.
    await t.db.query(`CREATE FUNCTION pooler_error() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'query_wait_timeout' USING ERRCODE = '08P01'; END $$`);
    await t.db.query('CREATE TRIGGER pooler_error BEFORE INSERT ON hub FOR EACH ROW EXECUTE FUNCTION pooler_error()');
    try {
      const response = await t.api.request('mutation { createHub(input: { name: "Hub B" }) { hub { id } userErrors { code } } }');
      expect(response.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    } finally {
      await t.db.query('DROP TRIGGER pooler_error ON hub; DROP FUNCTION pooler_error()');
    }
  });

  it("call a deadlock's victim (40P01) a request to retry, as PostgreSQL asks", async () => {
    // Raised by a trigger: a real deadlock's timing is the business of the tests that make one.
    await t.db.query(`CREATE FUNCTION deadlock_victim() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01'; END $$`);
    await t.db.query('CREATE TRIGGER deadlock_victim BEFORE INSERT ON hub FOR EACH ROW EXECUTE FUNCTION deadlock_victim()');
    try {
      const response = await t.api.request('mutation { createHub(input: { name: "Hub C" }) { hub { id } userErrors { code } } }');
      expect(response.errors?.[0]?.extensions).toEqual({ code: 'SERVICE_UNAVAILABLE', retryable: true });
    } finally {
      await t.db.query('DROP TRIGGER deadlock_victim ON hub; DROP FUNCTION deadlock_victim()');
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
