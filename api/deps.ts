/** What the HTTP layer is built from (tests pass their own). */
import type { Knex } from 'knex';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { OutboxRelay } from '../shared/outbox-relay.js';
import type { QueueRegistry } from '../shared/queues.js';
import type { SecretBox } from '../shared/secrets/box.js';
import type { EventHub } from './events/hub.js';

export interface ApiDeps {
  db: Knex;
  queues: QueueRegistry;
  config: Config;
  logger: Logger;
  /** Kicked after a commit that makes a job due; its timer relays what a crash left behind. */
  relay: Pick<OutboxRelay, 'kick'>;
  /** Seals manifest secrets at create; null when no key is configured (secrets refused). */
  secrets: SecretBox | null;
  /** The process's LISTEN fan-out for live events; made from `db` when absent (tests). */
  events?: EventHub;
}
