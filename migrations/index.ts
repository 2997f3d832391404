// Every migration, in order. `npm run migration:create` appends new ones here.
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261123181157 } from './Migration20261123181157.js';

export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261123181157', class: Migration20261123181157 },
];
