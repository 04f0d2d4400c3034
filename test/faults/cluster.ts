/**
 * A real stagecoach cluster for fault tests: its own database, queue prefix and data dir, the
 * API and N workers as separate OS processes (each in its own process group), logs in files.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Knex } from 'knex';
import { createDb, migrate } from '../../shared/db.js';
import { stopTargetsUnder } from '../helpers/cleanup.js';
import { TEST_REDIS_URL } from '../helpers/env.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';
import { createClient, type FaultApi } from './client.js';
import { dropRedisPrefix, prepareDb } from './infra.js';
import { isRunning, killPids, pidsWithCwdUnder, signal, spawnLogged, tail } from './procs.js';
import { until, waitForLog, type Proc } from './procs.js';

export type Backend = 'redis' | 'postgres';

export interface ClusterOptions {
  backend: Backend;
  workers: number;
  /** Extra environment for every process (the short timeouts of a describe). */
  env?: Record<string, string>;
  /** Use this database (migrated, never dropped) instead of a fresh `fault_<random>`. */
  databaseUrl?: string;
  redisUrl?: string;
}

export interface WorkerOptions {
  /** Run it as `npm run worker` (npm → tsx → node), like a Procfile runner does. */
  npm?: boolean;
  env?: Record<string, string>;
}

/** One more API process over the same database and queues, on a port of its own. */
export interface ExtraApi {
  proc: Proc;
  url: string;
}

export interface Cluster {
  api: FaultApi;
  db: Knex;
  dataDir: string;
  scenariosDir: string;
  prefix: string;
  apiProc: Proc;
  workers: Proc[];
  /** API processes started by `addApi` (besides `apiProc`). */
  apis: ExtraApi[];
  /** Signals a process (SIGKILL/SIGTERM to its group when it leads one); waits for SIGKILL. */
  kill(proc: Proc, sig?: NodeJS.Signals): Promise<void>;
  /** Starts one more worker; resolves once it logged that its workers started. */
  addWorker(opts?: WorkerOptions): Promise<Proc>;
  /** Starts one more API process (as production runs several); resolves once it is ready. */
  addApi(): Promise<ExtraApi>;
  /** SIGKILLs worker `i` (if alive) and starts a fresh one in its place. */
  restartWorker(i: number, opts?: WorkerOptions): Promise<Proc>;
  /** SIGKILLs the API (if alive) and starts it again on the same port. */
  restartApi(): Promise<void>;
  /** Tails of every process log, for assertion messages. */
  logs(lines?: number): string;
  close(): Promise<void>;
}

const NODE_TSX = [process.execPath, '--import', 'tsx'];

/** Starts the cluster and waits until the API is ready and every worker has started. */
export async function startCluster(opts: ClusterOptions): Promise<Cluster> {
  const prefix = `fault_${randomBytes(5).toString('hex')}`;
  const dataDir = await mkdtemp(path.join(tmpdir(), 'stagecoach-fault-'));
  await chmod(dataDir, 0o711); // resources may run as `postgres`
  await mkdir(path.join(dataDir, 'logs'));
  const scenariosDir = await copyExample('hello-web');
  const database = await prepareDb(prefix, opts.databaseUrl);
  const db = createDb(database.url);
  await migrate(db);
  const redisUrl = opts.redisUrl ?? TEST_REDIS_URL;
  const port = await freePort();
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    DATABASE_URL: database.url,
    ...(opts.backend === 'redis' ? { REDIS_URL: redisUrl } : {}),
    QUEUE_PREFIX: prefix,
    STAGECOACH_DATA_DIR: dataDir,
    SCENARIOS_DIR: scenariosDir,
    PORT: String(port),
    LOG_LEVEL: 'info',
    WORKER_CONCURRENCY: '4',
    HOST_CONCURRENCY: '8',
    RUN_LEASE_SECONDS: '3',
    RECONCILE_INTERVAL_SECONDS: '1',
    JOB_LOCK_SECONDS: '3',
    SHUTDOWN_GRACE_SECONDS: '3',
    // the suite polls the API from one address; the rate limit has tests of its own
    RATE_LIMIT_PER_MINUTE: '0',
    ...opts.env,
  };
  const logFile = (name: string) => path.join(dataDir, 'logs', `${name}.log`);
  let workerCount = 0;
  const c = {} as Cluster;
  const procs = () =>
    [c.apiProc, ...(c.apis ?? []).map((a) => a.proc), ...(c.workers ?? [])].filter(Boolean);
  // a test process that dies before close() must not leave the cluster running
  const killAll = () => {
    for (const p of procs()) {
      signal(p, 'SIGCONT', true);
      signal(p, 'SIGKILL', true);
    }
  };
  process.once('exit', killAll);

  const startApi = async (name = 'api', apiPort = port): Promise<Proc> => {
    const p = spawnLogged(
      name,
      NODE_TSX[0],
      [...NODE_TSX.slice(1), 'api/main.ts'],
      { ...baseEnv, PORT: String(apiPort) },
      logFile(name),
    );
    await until(
      async () => {
        if (!isRunning(p)) {
          throw new Error(`the API exited while starting:\n${tail(p.logFile)}`);
        }
        return fetch(`http://127.0.0.1:${apiPort}/readyz`).then(
          (r) => r.status === 200,
          () => false,
        );
      },
      30_000,
      () => `the API never became ready:\n${tail(p.logFile)}`,
    ).catch((err: Error) => {
      signal(p, 'SIGKILL', true); // not yet tracked: close() would not end it
      throw err;
    });
    return p;
  };
  const startWorker = async (name: string, w: WorkerOptions = {}): Promise<Proc> => {
    const env = { ...baseEnv, ...w.env };
    const from = existsSync(logFile(name)) ? statSync(logFile(name)).size : 0;
    const p = w.npm
      ? spawnLogged(name, 'npm', ['run', '--silent', 'worker'], env, logFile(name))
      : spawnLogged(
          name,
          NODE_TSX[0],
          [...NODE_TSX.slice(1), 'workers/main.ts'],
          env,
          logFile(name),
        );
    await waitForLog(p.logFile, /workers started/, 30_000, from).catch((err: Error) => {
      signal(p, 'SIGKILL', true);
      throw err;
    });
    return p;
  };

  Object.assign(c, {
    db,
    dataDir,
    scenariosDir,
    prefix,
    workers: [] as Proc[],
    apis: [] as ExtraApi[],
    api: createClient(`http://127.0.0.1:${port}`, () => c.logs()),
    async kill(p: Proc, sig: NodeJS.Signals = 'SIGKILL') {
      signal(p, sig, p.group && sig !== 'SIGSTOP' && sig !== 'SIGCONT');
      if (sig === 'SIGKILL' && isRunning(p)) {
        await p.exited;
      }
    },
    async addWorker(w?: WorkerOptions) {
      const p = await startWorker(`worker-${workerCount++}`, w);
      c.workers.push(p);
      return p;
    },
    async addApi() {
      const apiPort = await freePort();
      const proc = await startApi(`api-${c.apis.length + 1}`, apiPort);
      const extra = { proc, url: `http://127.0.0.1:${apiPort}` };
      c.apis.push(extra);
      return extra;
    },
    async restartWorker(i: number, w?: WorkerOptions) {
      await c.kill(c.workers[i]);
      c.workers[i] = await startWorker(c.workers[i].name, w);
      return c.workers[i];
    },
    async restartApi() {
      await c.kill(c.apiProc);
      c.apiProc = await startApi();
    },
    logs(lines = 30) {
      return procs()
        .map((p) => `----- ${p.name} (pid ${p.pid}) ${p.logFile}\n${tail(p.logFile, lines)}`)
        .join('\n');
    },
    async close() {
      process.removeListener('exit', killAll);
      killAll();
      await Promise.all(procs().map((p) => (isRunning(p) ? p.exited : null)));
      stopTargetsUnder(path.join(dataDir, 'targets'));
      killPids(pidsWithCwdUnder(dataDir)); // stray step commands (e.g. an orphaned sleep)
      await db.destroy();
      await database.drop();
      await dropRedisPrefix(redisUrl, prefix);
      await rm(scenariosDir, { recursive: true, force: true });
      if (!process.env.FAULT_KEEP_DATA) {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
  });
  try {
    c.apiProc = await startApi();
    const names = Array.from({ length: opts.workers }, () => `worker-${workerCount++}`);
    const started = await Promise.allSettled(names.map((name) => startWorker(name)));
    c.workers = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      throw failed.reason;
    }
  } catch (err) {
    await c.close();
    throw err;
  }
  return c;
}
