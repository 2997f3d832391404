// Every migration, in order. `npm run migration:create` appends new ones here.
import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261123181157 } from './Migration20261123181157.js';
import { Migration20261123182914 } from './Migration20261123182914.js';
import { Migration20261123183316 } from './Migration20261123183316.js';
import { Migration20261123193322 } from './Migration20261123193322.js';
import { Migration20261123201543 } from './Migration20261123201543.js';
import { Migration20261123220417 } from './Migration20261123220417.js';
import { Migration20261123231500 } from './Migration20261123231500.js';
import { Migration20261124030000 } from './Migration20261124030000.js';
import { Migration20261124031000 } from './Migration20261124031000.js';
import { Migration20261124031425 } from './Migration20261124031425.js';
import { Migration20261124033646 } from './Migration20261124033646.js';
import { Migration20261124050833 } from './Migration20261124050833.js';
import { Migration20261124052657 } from './Migration20261124052657.js';
import { Migration20261124054152 } from './Migration20261124054152.js';
import { Migration20261124093000 } from './Migration20261124093000.js';
import { Migration20261124113037 } from './Migration20261124113037.js';
import { Migration20261124170000 } from './Migration20261124170000.js';
import { Migration20261124200000 } from './Migration20261124200000.js';
import { Migration20261124220000 } from './Migration20261124220000.js';
import { Migration20261124220446 } from './Migration20261124220446.js';
import { Migration20261124230000 } from './Migration20261124230000.js';

export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261123181157', class: Migration20261123181157 },
  { name: 'Migration20261123182914', class: Migration20261123182914 },
  { name: 'Migration20261123183316', class: Migration20261123183316 },
  { name: 'Migration20261123193322', class: Migration20261123193322 },
  { name: 'Migration20261123201543', class: Migration20261123201543 },
  { name: 'Migration20261123220417', class: Migration20261123220417 },
  { name: 'Migration20261123231500', class: Migration20261123231500 },
  { name: 'Migration20261124030000', class: Migration20261124030000 },
  { name: 'Migration20261124031000', class: Migration20261124031000 },
  { name: 'Migration20261124031425', class: Migration20261124031425 },
  { name: 'Migration20261124033646', class: Migration20261124033646 },
  { name: 'Migration20261124050833', class: Migration20261124050833 },
  { name: 'Migration20261124052657', class: Migration20261124052657 },
  { name: 'Migration20261124054152', class: Migration20261124054152 },
  { name: 'Migration20261124093000', class: Migration20261124093000 },
  { name: 'Migration20261124113037', class: Migration20261124113037 },
  { name: 'Migration20261124170000', class: Migration20261124170000 },
  { name: 'Migration20261124200000', class: Migration20261124200000 },
  { name: 'Migration20261124220000', class: Migration20261124220000 },
  { name: 'Migration20261124220446', class: Migration20261124220446 },
  { name: 'Migration20261124230000', class: Migration20261124230000 },
];
