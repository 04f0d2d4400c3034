/** What the HTTP layer is built from (tests pass their own). */
import type { Knex } from 'knex';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { QueueRegistry } from '../shared/queues.js';

export interface ApiDeps {
  db: Knex;
  queues: QueueRegistry;
  config: Config;
  logger: Logger;
}
