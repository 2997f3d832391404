import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // graphql 16 ships CommonJS (main) and ESM (module) builds. Node, loading type-graphql, takes
    // the CommonJS one; Vite would take the ESM one for our sources, and two copies of graphql
    // cannot share a schema. Point Vite at the copy Node uses.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Each test file gets its own database (cloned from a migrated template) and its own server.
    pool: 'forks',
    maxWorkers: 2,
    // ...but shares its worker's loaded modules with the files before it: loading the server's
    // modules (type-graphql, MikroORM, the schema) took about a second per file, a third of the
    // run on two cores. A file that mocks a module, or reads a module's state that other files
    // add to (generic-plans.test.ts: every statement prepared in the process), loads what it uses
    // afresh (vi.resetModules()); the others keep their state in the database each has its own of.
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
