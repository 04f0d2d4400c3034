/**
 * An isolated stagecoach for one test file: its own database schema, its own queue
 * namespace (Redis prefix or PostgreSQL-backend schema), its own data dir, real workers.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import { Redis } from 'ioredis';
import knexFactory, { type Knex } from 'knex';
import { createApp } from '../../api/app.js';
import { parseConfig, type Config } from '../../shared/config.js';
import { createDb, migrate } from '../../shared/db.js';
import { createLogger, type Logger } from '../../shared/logger.js';
import { OutboxRelay } from '../../shared/outbox-relay.js';
import { QueueRegistry, type QueueBackendConfig } from '../../shared/queues.js';
import { RELAY_EVERY_MS } from '../../shared/runtime.js';
import { SecretBox } from '../../shared/secrets/box.js';
import type { StageContext } from '../../workers/context.js';
import { createStageContext } from '../../workers/create-context.js';
import { startWorkers, type WorkerSet } from '../../workers/start.js';
import { stopTargetsUnder } from './cleanup.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './env.js';

export type BackendKind = 'postgres' | 'redis';

export interface Harness {
  app: Express;
  db: Knex;
  queues: QueueRegistry;
  config: Config;
  ctx: StageContext;
  workers?: WorkerSet;
  dataDir: string;
  /** Starts the workers (tests that simulate crashes start them late). */
  startWorkers(): void;
  close(): Promise<void>;
}

/** Deletes the test's queue keys from Redis. */
async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) {
      await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

/** Creates a harness; `env` overrides configuration (e.g. SCENARIOS_DIR). */
export async function createHarness(
  kind: BackendKind,
  env: Record<string, string> = {},
  /** A logger to see what stagecoach logs (default: silent). */
  logger: Logger = createLogger('silent'),
): Promise<Harness> {
  const id = `t_${randomBytes(5).toString('hex')}`;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'stagecoach-it-'));
  await chmod(dataDir, 0o711); // resources run as `postgres` when tests run as root
  const config = parseConfig({
    STAGECOACH_DATA_DIR: dataDir,
    SCENARIOS_DIR: process.cwd(),
    DATABASE_URL: TEST_DATABASE_URL,
    ...(kind === 'redis' ? { REDIS_URL: TEST_REDIS_URL } : {}),
    LOG_LEVEL: 'silent',
    // tests poll the API from one address; the rate limit has tests of its own
    RATE_LIMIT_PER_MINUTE: '0',
    // the health watch has a test of its own; elsewhere it would inspect behind tests' backs
    HEALTH_WATCH_SECONDS: '0',
    // test sshd keys live in temp dirs (test/helpers/sshd.ts), not in ~/.ssh
    SSH_KEYS_DIR: tmpdir(),
    ...env,
  });
  const admin = knexFactory({ client: 'pg', connection: TEST_DATABASE_URL });
  await admin.raw('CREATE SCHEMA ??', [id]);
  const db = createDb(TEST_DATABASE_URL, id);
  await migrate(db, id);
  const backend: QueueBackendConfig =
    kind === 'redis'
      ? { kind: 'redis', url: TEST_REDIS_URL, prefix: id }
      : { kind: 'postgres', connectionString: TEST_DATABASE_URL, schema: `${id}_q` };
  const queues = new QueueRegistry(backend, config.JOB_LOCK_SECONDS * 1000);
  const relay = new OutboxRelay(db, queues, logger).start(RELAY_EVERY_MS);
  const secrets = SecretBox.fromText(
    config.STAGECOACH_SECRET_KEY ?? randomBytes(32).toString('hex'),
  );
  const ctx = createStageContext({ db, queues, relay, secrets }, config, logger);
  const h: Harness = {
    app: createApp({ db, queues, relay, secrets, config, logger }),
    db,
    queues,
    config,
    ctx,
    dataDir,
    startWorkers() {
      h.workers = startWorkers(ctx, ['build', 'setup', 'deploy', 'inspect'], {
        concurrency: 4,
      });
    },
    async close() {
      await h.workers?.close(0);
      await relay.stop();
      stopTargetsUnder(path.join(dataDir, 'targets'));
      await queues.close();
      await db.destroy();
      await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [id]);
      await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [`${id}_q`]);
      await admin.destroy();
      await rm(dataDir, { recursive: true, force: true });
      if (kind === 'redis') {
        await dropRedisPrefix(id);
      }
    },
  };
  return h;
}
