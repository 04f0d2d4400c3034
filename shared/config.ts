/** Configuration: `process.env` parsed once through a zod schema. Nothing else reads env. */
import path from 'node:path';
import { z } from 'zod';

const QUEUE_NAMES = ['build', 'setup', 'deploy', 'inspect'] as const;

/** A number from the environment; an empty string counts as unset. */
const envNumber = (min: number, max: number, fallback: number) =>
  z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.coerce.number().int().min(min).max(max).default(fallback),
  );

const optionalUrl = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .pipe(z.url().optional())
  .optional();

export const configSchema = z.object({
  /** HTTP port of the API. */
  PORT: envNumber(0, 65535, 3000),
  /** Address the API binds to; anything but loopback requires API_TOKEN. */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Bearer token required on /api/v1 and /admin when set (at least 16 characters). */
  API_TOKEN: z.string().min(16).optional(),
  /** Bearer token GET /metrics requires when set (16+ characters); unset → loopback scrapes only. */
  METRICS_TOKEN: z.string().min(16).optional(),
  /** Postgres URL; unset → an embedded PostgreSQL under STAGECOACH_DATA_DIR. */
  DATABASE_URL: optionalUrl,
  /** Redis URL for the queues; unset → BullMQ's PostgreSQL backend in the same database. */
  REDIS_URL: optionalUrl,
  /** Embedded database, bundle cache and local targets live here. */
  STAGECOACH_DATA_DIR: z.string().min(1).default('.data'),
  /** `scenario.path` of a manifest resolves inside this directory. */
  SCENARIOS_DIR: z.string().min(1).default('.'),
  /** Queues this worker process consumes, comma-separated. */
  WORKER_QUEUES: z
    .string()
    .default(QUEUE_NAMES.join(','))
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(QUEUE_NAMES)).min(1))
    .transform((names) => [...new Set(names)]),
  /** Jobs each queue's worker runs at once in this process. */
  WORKER_CONCURRENCY: envNumber(1, 256, 4),
  /** Port of the embedded PostgreSQL (only without DATABASE_URL). */
  EMBEDDED_PG_PORT: envNumber(1, 65535, 54329),
  /** Queue prefix (Redis) or schema (PostgreSQL backend) that namespaces the queues. */
  QUEUE_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,40}$/)
    .default('stagecoach'),
  /** ssh-agent socket for SSH targets without key_path. */
  SSH_AUTH_SOCK: z.string().min(1).optional(),
  /** Preflight: free disk the target needs in its workdir (MB). */
  PREFLIGHT_MIN_DISK_MB: envNumber(1, 10_000_000, 1024),
  /** Preflight: available memory the target needs (MB). */
  PREFLIGHT_MIN_MEMORY_MB: envNumber(1, 10_000_000, 256),
  /** A worker renews its lease on a run this often ÷ 4; a lease not renewed for this long is lost. */
  RUN_LEASE_SECONDS: envNumber(1, 3600, 60),
  /** How often the reconciler looks for expired leases (and relays the outbox). */
  RECONCILE_INTERVAL_SECONDS: envNumber(1, 3600, 15),
  /** Attempts of one stage (transient failures, lost workers) before the run fails. */
  STAGE_MAX_ATTEMPTS: envNumber(1, 20, 3),
  /** Default stage time limits (seconds); a manifest's `timeouts` overrides them. */
  STAGE_TIMEOUT_BUILD_S: envNumber(1, 86_400, 900),
  STAGE_TIMEOUT_SETUP_S: envNumber(1, 86_400, 1800),
  STAGE_TIMEOUT_DEPLOY_S: envNumber(1, 86_400, 1800),
  /** Mutating stages (setup, deploy, stop) at once against one target host, across workers. */
  HOST_CONCURRENCY: envNumber(1, 64, 1),
  /** On SIGTERM, how long active stages may finish before they are handed back. */
  SHUTDOWN_GRACE_SECONDS: envNumber(0, 3600, 30),
  /** BullMQ job lock (seconds); a worker silent for longer loses its job to another. */
  JOB_LOCK_SECONDS: envNumber(1, 3600, 30),
  /** Test-only fault hook (e.g. `crash_after_commit:setup`); never set it in production. */
  STAGECOACH_TEST_FAULT: z.string().optional(),
  /** Host names the API answers besides its bind address and loopback, comma-separated (any port). */
  ALLOWED_HOSTS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(/^[a-z0-9.:[\]_-]+$/, 'a host name or IP address'))),
  /** API requests per minute per token (or per client address without one); 0 turns it off. */
  RATE_LIMIT_PER_MINUTE: envNumber(0, 1_000_000, 600),
  /** Live events (SSE): seconds between keepalive comments (each also re-reads the database). */
  SSE_KEEPALIVE_SECONDS: envNumber(1, 3600, 15),
  /** Key for secrets at rest (AES-256-GCM): 64 hex characters or 32 bytes in base64. */
  STAGECOACH_SECRET_KEY: z
    .string()
    .regex(
      /^([0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=)$/,
      'must be 64 hex characters or 32 bytes in base64',
    )
    .optional(),
  /** Largest unpacked size of a bundle in bytes (2 GiB); a bigger one fails with bundle_too_large. */
  BUNDLE_MAX_BYTES: envNumber(1, 2 ** 50, 2 * 1024 ** 3),
  /** A manifest's ssh `key_path` must name a file inside this directory (`~` = the worker's home). */
  SSH_KEYS_DIR: z.string().min(1).default('~/.ssh'),
  /** A run's SSH connection is kept this long for its next stage in the same worker; 0 = off. */
  SSH_REUSE_SECONDS: envNumber(0, 3600, 10),
  /** Output stored per run (deployment_logs); past it a marker says the rest was dropped. */
  RUN_LOG_MAX_BYTES: envNumber(1024, 2 ** 40, 16 * 1024 ** 2),
  /** Health watch: inspect every idle `deployed` deployment this often (seconds); 0 turns it off. */
  HEALTH_WATCH_SECONDS: envNumber(0, 86_400, 60),
  /** Webhooks: attempts of one delivery before it is marked failed. */
  WEBHOOK_MAX_ATTEMPTS: envNumber(1, 50, 10),
  /** Webhooks: wait after the first failed attempt (ms); doubles per attempt, at most an hour. */
  WEBHOOK_BACKOFF_MS: envNumber(1, 3_600_000, 10_000),
  /** Webhooks: time limit of one attempt (ms), connection to response headers. */
  WEBHOOK_TIMEOUT_MS: envNumber(100, 120_000, 10_000),
  /** Webhooks: how often each worker process looks for due deliveries (ms). */
  WEBHOOK_POLL_MS: envNumber(10, 60_000, 1000),
  /** Log retention: deployment_logs rows are kept for this many newest runs per deployment. */
  LOG_KEEP_RUNS: envNumber(1, 100_000, 20),
  /** Log retention: how often each worker process prunes older runs' rows (seconds); 0 = off. */
  LOG_PRUNE_SECONDS: envNumber(0, 7 * 86_400, 3600),
  /** pino log level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Log lines: `pretty` (pino-pretty), `json`, or `auto` (pretty when stdout is a terminal). */
  LOG_FORMAT: z.preprocess(
    (v) => (v === '' ? undefined : v),
    z.enum(['auto', 'json', 'pretty']).default('auto'),
  ),
});

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export type Config = z.infer<typeof configSchema> & {
  dataDir: string;
  scenariosDir: string;
};

/** Parses an environment into a Config; throws a readable error on bad values. */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid configuration:\n${lines.join('\n')}`);
  }
  if (!LOOPBACK.has(result.data.HOST) && !result.data.API_TOKEN) {
    throw new Error(
      `invalid configuration:\n  HOST: binding ${result.data.HOST} exposes the API; set API_TOKEN as well`,
    );
  }
  if (result.data.METRICS_TOKEN && result.data.METRICS_TOKEN === result.data.API_TOKEN) {
    throw new Error(
      'invalid configuration:\n  METRICS_TOKEN: must differ from API_TOKEN (scrapers get no API access)',
    );
  }
  return {
    ...result.data,
    dataDir: path.resolve(result.data.STAGECOACH_DATA_DIR),
    scenariosDir: path.resolve(result.data.SCENARIOS_DIR),
  };
}

/** Reads the process environment once; exits non-zero with a clear message when invalid. */
export function loadConfig(): Config {
  try {
    return parseConfig(process.env);
  } catch (err) {
    process.stderr.write(`stagecoach: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
