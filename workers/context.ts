/** What every stage receives besides its job. */
import type { Knex } from 'knex';
import type { Config } from '../shared/config.js';
import type { Logger } from '../shared/logger.js';
import type { DeploymentRow } from '../shared/repositories/deployments.js';
import type { QueueRegistry } from '../shared/queues.js';
import type { SecretBox } from '../shared/secrets/box.js';
import type { Transport } from '../shared/transports/types.js';

export interface StageContext {
  db: Knex;
  queues: QueueRegistry;
  config: Config;
  logger: Logger;
  /**
   * Opens the transport for a deployment's target (one per stage, or the connection an earlier
   * stage of the same run parked); verifies the SSH host key, recording it on first use.
   */
  openTransport(deployment: DeploymentRow, note?: (line: string) => void): Promise<Transport>;
  /**
   * Gives a stage's transport back: parked for the next stage of the same run when `reusable`
   * (SSH, SSH_REUSE_SECONDS), else closed.
   */
  releaseTransport(deployment: DeploymentRow, t: Transport, reusable: boolean): Promise<void>;
  /** Closes the connections parked between stages (worker shutdown). */
  closeTransports(): Promise<void>;
  /** Directory of the target-side scripts shipped in every bundle. */
  scriptsDir: string;
  /** Relays outbox rows to the queues (kicked after each commit that makes a job due). */
  relay?: { kick(): void };
  /** Opens manifest secrets for the target; null when no key is configured. */
  secrets?: SecretBox | null;
}
