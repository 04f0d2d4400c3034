/** Boots what every process needs: database (external or embedded), migrations, queues. */
import type { Knex } from 'knex';
import type { Config } from './config.js';
import { createDb, migrate } from './db.js';
import { startEmbeddedDb, type EmbeddedDb } from './embedded-db.js';
import type { Logger } from './logger.js';
import { OutboxRelay } from './outbox-relay.js';
import { QueueRegistry, type QueueBackendConfig } from './queues.js';
import type { SecretBox } from './secrets/box.js';
import { loadSecretBox } from './secrets/key.js';

/** How often every process relays outbox rows a crashed writer left behind. */
export const RELAY_EVERY_MS = 1000;

export interface Runtime {
  db: Knex;
  queues: QueueRegistry;
  /** Moves committed job intents (the outbox) into the queues. */
  relay: OutboxRelay;
  /** Seals and opens manifest secrets; null when no key is configured. */
  secrets: SecretBox | null;
  databaseUrl: string;
  /** Closes queues, then the database, then the embedded server (if any). */
  close(): Promise<void>;
}

/** Where the queues live for this configuration. */
export function queueBackendFor(config: Config, databaseUrl: string): QueueBackendConfig {
  return config.REDIS_URL
    ? { kind: 'redis', url: config.REDIS_URL, prefix: config.QUEUE_PREFIX }
    : { kind: 'postgres', connectionString: databaseUrl, schema: `${config.QUEUE_PREFIX}_queues` };
}

/** Connects (starting the embedded PostgreSQL when DATABASE_URL is unset) and migrates. */
export async function boot(
  config: Config,
  logger: Logger,
  opts: { migrate: boolean; createKeyFile?: boolean },
): Promise<Runtime> {
  const secrets = await loadSecretBox(config, logger, { createKeyFile: !!opts.createKeyFile });
  let embedded: EmbeddedDb | undefined;
  let url = config.DATABASE_URL;
  if (!url) {
    embedded = await startEmbeddedDb(config.dataDir, config.EMBEDDED_PG_PORT, logger);
    url = embedded.url;
    logger.info({ port: config.EMBEDDED_PG_PORT, dir: embedded.dir }, 'embedded PostgreSQL ready');
  }
  const db = createDb(url);
  if (opts.migrate) {
    const applied = await migrate(db);
    if (applied.length) {
      logger.info({ applied }, 'migrations applied');
    }
  }
  const queues = new QueueRegistry(
    queueBackendFor(config, url),
    config.JOB_LOCK_SECONDS * 1000,
    (err) => logger.warn({ err: err.message }, 'queue connection error'),
  );
  logger.info({ queues: queues.backend.kind }, 'queue backend');
  const relay = new OutboxRelay(db, queues, logger).start(RELAY_EVERY_MS);
  return {
    db,
    queues,
    relay,
    secrets,
    databaseUrl: url,
    async close() {
      await relay.stop();
      await queues.close();
      await db.destroy();
      await embedded?.stop();
    },
  };
}
