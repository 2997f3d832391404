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

  it('call a statement PostgreSQL refused as a protocol violation an internal error, not an outage to retry', async () => {
    // What a NUL in text used to cause (08P01); raised here by a trigger, since requests can no longer send one.
    await t.db.query(`CREATE FUNCTION refuse_protocol() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'invalid message format' USING ERRCODE = '08P01'; END $$`);
    await t.db.query('CREATE TRIGGER refuse_protocol BEFORE INSERT ON hub FOR EACH ROW EXECUTE FUNCTION refuse_protocol()');
    try {
      const response = await t.api.request('mutation { createHub(input: { name: "Hub B" }) { hub { id } userErrors { code } } }');
      expect(response.errors).toEqual([{ message: 'Internal server error', path: ['createHub'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    } finally {
      await t.db.query('DROP TRIGGER refuse_protocol ON hub; DROP FUNCTION refuse_protocol()');
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
