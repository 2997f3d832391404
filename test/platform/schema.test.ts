import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildAppSchema, printAppSchema } from '../../src/graphql/schema.js';

describe('schema/schema.graphql', () => {
  it('is the schema the code emits (run `npm run schema:emit` after changing the API)', async () => {
    const emitted = printAppSchema(await buildAppSchema());
    expect(readFileSync('schema/schema.graphql', 'utf8')).toBe(emitted);
  });

  it('keeps every name of the public contract', () => {
    const checker = '../shared/tools/check-contract.mjs';
    expect(existsSync(checker), `${checker} must sit beside the project`).toBe(true);
    const output = execFileSync('node', [checker, 'schema/schema.graphql'], { encoding: 'utf8' });
    expect(output).toMatch(/^contract: all \d+ contract types present/m);
  });
});
