import { describe, expect, it } from 'vitest';
import { buildAppSchema } from '../../src/graphql/schema.js';

describe('access rules', () => {
  it('are declared on every root field and subscription (@Public or @Allow)', async () => {
    const schema = await buildAppSchema();
    const missing: string[] = [];
    let checked = 0;
    for (const root of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
      for (const field of Object.values(root!.getFields())) {
        checked += 1;
        const access = field.extensions?.access;
        const valid = access === 'public' || (Array.isArray(access) && access.length > 0);
        if (!valid) missing.push(`${root!.name}.${field.name}`);
      }
    }
    expect(missing).toEqual([]);
    expect(checked).toBeGreaterThan(20);
  });

  it('are enforced when the schema is built: a server with an undeclared root field does not start', async () => {
    const { assertEveryRootFieldHasARule } = await import('../../src/auth/access.js');
    const { buildSchema } = await import('graphql');
    expect(() => assertEveryRootFieldHasARule(buildSchema('type Query { secret: String }'))).toThrow('no access rule (@Public or @Allow) on Query.secret');
  });
});
