/** What every stage receives besides its job. */
import type { Knex } from 'knex';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { Manifest } from '../shared/manifest.js';
import type { QueueRegistry } from '../shared/queues.js';
import type { Transport } from '../shared/transports/types.js';

export interface StageContext {
  db: Knex;
  queues: QueueRegistry;
  config: Config;
  logger: Logger;
  /** Opens the transport for a deployment's target (one per stage, closed by the stage). */
  openTransport(manifest: Manifest): Promise<Transport>;
  /** Directory of the target-side scripts shipped in every bundle. */
  scriptsDir: string;
}
