// Writes schema/schema.graphql from the code. A test fails when the committed file is stale.
import { writeFileSync } from 'node:fs';
import { buildAppSchema, printAppSchema } from '../src/graphql/schema.js';

writeFileSync('schema/schema.graphql', printAppSchema(await buildAppSchema()));
process.stdout.write('wrote schema/schema.graphql\n');
