/**
 * Run-control benchmark (issue 6): the API and worker processes as separate OS processes
 * (test/faults/cluster.ts), hello-web (one tiny node http server) on local targets.
 * Ratios in the same run, no asserts:
 * - throughput: 40 deployments created with `execute: true` at once until all are `deployed`,
 *   2 worker processes vs 1 (same WORKER_CONCURRENCY, HOST_CONCURRENCY high);
 * - stage hand-off: `stage_finished` of build → `stage_started` of setup, and setup → deploy,
 *   from deployment_events (20 deployments, 3 at a time), vs a bare BullMQ hop on the same
 *   backend (queue A's processor adds a job to queue B: add → B's processor starts).
 * The throughput rows show where the CPU went: at ~100 % busy on 2 cores the stage commands, not
 * the worker processes, are the limit, and a second worker process cannot help. The hand-off
 * parts come from the stage jobs' own timestamps (added, processedOn).
 * Run: npx tsx bench/runs.bench.ts [--pg-throughput]   (PostgreSQL throughput: +2 min)
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Queue, Worker, createPostgresBackend, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import knexFactory from 'knex';
import { startCluster, type Backend, type Cluster } from '../test/faults/cluster.js';
import { dropRedisPrefix } from '../test/faults/infra.js';
import { manifestFor } from '../test/faults/scenarios.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../test/helpers/env.js';
import { median } from './pipeline.bench.js';

/** The configuration's production defaults, not the fault suite's short test timers. */
const ENV = {
  WORKER_CONCURRENCY: '4',
  HOST_CONCURRENCY: '16',
  RUN_LEASE_SECONDS: '60',
  RECONCILE_INTERVAL_SECONDS: '15',
  JOB_LOCK_SECONDS: '30',
  SHUTDOWN_GRACE_SECONDS: '3',
};
const SCENARIO = 'examples/hello-web';
const BATCH = 40;
const HANDOFFS = 20;
const IN_FLIGHT = 3;
const HOPS = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** The p-th percentile (nearest rank) of a sample. */
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

/** Polls the cluster's database until every deployment is `deployed` with no active run. */
async function allDeployed(c: Cluster, ids: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = (await c
      .db('deployments')
      .whereIn('id', ids)
      .select('id', 'status', 'run_kind', 'error_message')) as {
      id: string;
      status: string;
      run_kind: string | null;
      error_message: string | null;
    }[];
    const failed = rows.find((r) => r.status === 'failed');
    if (failed) {
      throw new Error(`deployment ${failed.id} failed: ${failed.error_message}\n${c.logs(10)}`);
    }
    if (rows.length === ids.length && rows.every((r) => r.status === 'deployed' && !r.run_kind)) {
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`not all deployed within ${timeoutMs} ms\n${c.logs(10)}`);
    }
    await sleep(25);
  }
}

/** A manifest for hello-web on `targets/<name>` with a free port. */
const manifest = (name: string) =>
  manifestFor(SCENARIO, { target: { type: 'local', workdir: `targets/${name}` } });

/** CPU seconds (user + system) of a process itself, and of its exited children. */
function procCpu(pid: number): { own: number; children: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const sec = (i: number) => Number(f[i]) / 100; // clock ticks (USER_HZ)
  return { own: sec(11) + sec(12), children: sec(13) + sec(14) };
}

/** Busy and total CPU time of the machine so far (ms, all cores). */
function machineCpu(): { busy: number; all: number } {
  let busy = 0;
  let all = 0;
  for (const { times: t } of os.cpus()) {
    busy += t.user + t.nice + t.sys + t.irq;
    all += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, all };
}

interface Throughput {
  seconds: number;
  /** Share of the machine's CPU that was busy (anyone's work, other jobs too). */
  busy: number;
  /** CPU seconds of the worker processes' own JavaScript, and of the stage commands they ran. */
  workers: number;
  commands: number;
}

/** From the first POST until all `n` deployments are `deployed`, and where the CPU went. */
async function throughput(backend: Backend, workers: number, n: number): Promise<Throughput> {
  const c = await startCluster({ backend, workers, env: ENV });
  try {
    const manifests = [];
    for (const i of range(n)) {
      manifests.push(await manifest(`n-${i}`));
    }
    const cpu0 = c.workers.map((w) => procCpu(w.pid));
    const m0 = machineCpu();
    const start = performance.now();
    const ids = await Promise.all(manifests.map(async (m) => (await c.api.create(m)).id));
    await allDeployed(c, ids, 180_000);
    const seconds = (performance.now() - start) / 1000;
    const m1 = machineCpu();
    const cpu1 = c.workers.map((w) => procCpu(w.pid));
    const sum = (k: 'own' | 'children') => cpu1.reduce((t, x, i) => t + x[k] - cpu0[i][k], 0);
    const busy = (m1.busy - m0.busy) / (m1.all - m0.all);
    return { seconds, busy, workers: sum('own'), commands: sum('children') };
  } finally {
    await c.close(); // kills the processes, stops the services under targets/
  }
}

/** One hand-off: stage_finished → job added (end write + relay) → worker start → claim. */
interface Hop {
  total: number;
  relay: number;
  queue: number;
  claim: number;
}

interface Handoffs {
  buildSetup: Hop[];
  setupDeploy: Hop[];
}

/** A Queue on the cluster's backend (and how to close it), to read the stage jobs. */
function clusterQueue(c: Cluster, backend: Backend, name: string) {
  if (backend === 'redis') {
    const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const queue = new Queue(name, { connection, prefix: c.prefix });
    return { queue, close: async () => (await queue.close(), connection.disconnect()) };
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${c.prefix}`; // test/faults/infra.ts names the database after the prefix
  const connection = { connectionString: url.toString(), schema: `${c.prefix}_queues` };
  const queue = new Queue(name, { connection }, createPostgresBackend) as unknown as Queue;
  return { queue, close: () => queue.close() };
}

/** When each deployment's job on `queue` was added and picked up (ms since the epoch). */
async function jobTimes(c: Cluster, backend: Backend, queue: string) {
  const q = clusterQueue(c, backend, queue);
  try {
    const jobs = await q.queue.getJobs(['completed', 'failed'], 0, -1);
    return new Map(
      jobs.map((j) => [
        (j.data as { deploymentId: string }).deploymentId,
        { added: j.timestamp, started: j.processedOn ?? NaN },
      ]),
    );
  } finally {
    await q.close();
  }
}

/** Runs `n` deployments, `inFlight` at a time, each until it is `deployed`; returns their ids. */
async function runLanes(c: Cluster, n: number, inFlight: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const { id } = await c.api.create(await manifest(`h-${next++}`));
      ids.push(id);
      await allDeployed(c, [id], 60_000);
    }
  };
  await Promise.all(range(inFlight).map(lane));
  return ids;
}

/** Hand-off latencies (ms) from the history of `n` deployments run `inFlight` at a time. */
async function handoffs(backend: Backend, n: number, inFlight: number): Promise<Handoffs> {
  const c = await startCluster({ backend, workers: 1, env: ENV });
  try {
    const ids = await runLanes(c, n, inFlight);
    // created_at is the writing transaction's start; epoch keeps the microseconds
    const rows = (await c
      .db('deployment_events')
      .whereIn('deployment_id', ids)
      .whereIn('kind', ['stage_started', 'stage_finished'])
      .orderBy('id')
      .select(
        'deployment_id',
        'kind',
        'stage',
        c.db.raw('extract(epoch from created_at) * 1000 as at'),
      )) as {
      deployment_id: string;
      kind: string;
      stage: string;
      at: string;
    }[];
    const at = (id: string, kind: string, stage: string) =>
      Number(rows.find((r) => r.deployment_id === id && r.kind === kind && r.stage === stage)?.at);
    const hops = async (from: string, to: string): Promise<Hop[]> => {
      const jobs = await jobTimes(c, backend, to);
      return ids.map((id) => {
        const finished = at(id, 'stage_finished', from);
        const started = at(id, 'stage_started', to);
        const job = jobs.get(id) ?? { added: NaN, started: NaN };
        return {
          total: started - finished,
          relay: job.added - finished,
          queue: job.started - job.added,
          claim: started - job.started,
        };
      });
    };
    return { buildSetup: await hops('build', 'setup'), setupDeploy: await hops('setup', 'deploy') };
  } finally {
    await c.close();
  }
}

/** Queue and worker constructors for one backend, and how to clean up after them. */
function bareBackend(backend: Backend) {
  const ns = `bench_hop_${randomBytes(4).toString('hex')}`;
  if (backend === 'redis') {
    const shared = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
    const own: Redis[] = [];
    return {
      queue: (name: string) => new Queue(name, { connection: shared, prefix: ns }),
      worker: (name: string, fn: (job: Job) => Promise<void>) => {
        const connection = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: null });
        own.push(connection);
        return new Worker(name, fn, { connection, prefix: ns, concurrency: 4 });
      },
      async cleanup() {
        shared.disconnect();
        own.forEach((r) => r.disconnect());
        await dropRedisPrefix(TEST_REDIS_URL, ns);
      },
    };
  }
  const connection = { connectionString: TEST_DATABASE_URL, schema: ns, migrate: true };
  return {
    queue: (name: string) => new Queue(name, { connection }, createPostgresBackend),
    worker: (name: string, fn: (job: Job) => Promise<void>) =>
      new Worker(name, fn, { connection, concurrency: 4 }, createPostgresBackend),
    async cleanup() {
      const admin = knexFactory({ client: 'pg', connection: TEST_DATABASE_URL });
      await admin.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [ns]);
      await admin.destroy();
    },
  };
}

/** Bare BullMQ hops (ms): A's processor adds to B, measured until B's processor starts. */
async function bareHops(backend: Backend, hops: number): Promise<number[]> {
  const b = bareBackend(backend);
  const qa = b.queue('hop-a');
  const qb = b.queue('hop-b');
  const samples: number[] = [];
  let arrived: () => void = () => undefined;
  const wa = b.worker('hop-a', async () => {
    await qb.add('b', { t: performance.now() });
  });
  const wb = b.worker('hop-b', async (job) => {
    samples.push(performance.now() - (job.data as { t: number }).t);
    arrived();
  });
  try {
    await Promise.all([wa.waitUntilReady(), wb.waitUntilReady()]);
    const warmup = 10;
    for (let i = 0; i < hops + warmup; i++) {
      const done = new Promise<void>((r) => (arrived = r));
      await qa.add('a', {});
      await done;
    }
    return samples.slice(warmup);
  } finally {
    await Promise.all([wa.close(), wb.close()]);
    await Promise.all([qa.close(), qb.close()]);
    await b.cleanup();
  }
}

interface BackendFigures {
  bare: number[];
  handoff: Handoffs;
  one?: Throughput;
  two?: Throughput;
}

/** Runs `fn`, noting on stderr how long it took. */
async function timed<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const value = await fn();
  console.error(`  ${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return value;
}

/** Everything measured on one backend. */
async function measure(backend: Backend, withThroughput: boolean): Promise<BackendFigures> {
  const bare = await timed(`${backend} bare hops`, () => bareHops(backend, HOPS));
  const handoff = await timed(`${backend} hand-offs`, () => handoffs(backend, HANDOFFS, IN_FLIGHT));
  const f: BackendFigures = { bare, handoff };
  if (withThroughput) {
    f.one = await timed(`${backend} 1 proc`, () => throughput(backend, 1, BATCH));
    f.two = await timed(`${backend} 2 procs`, () => throughput(backend, 2, BATCH));
  }
  return f;
}

const row = (name: string, value: string, ratio = '') =>
  console.log(`${name.padEnd(46)} ${value.padStart(24)}  ${ratio}`);
const lat = (xs: number[]) => `${median(xs).toFixed(1)} / ${pct(xs, 99).toFixed(1)} ms`;

/** Prints the rows of one backend. */
function report(label: string, f: BackendFigures): void {
  if (f.one && f.two) {
    const [r1, r2] = [BATCH / f.one.seconds, BATCH / f.two.seconds];
    const v = (r: number, t: Throughput) => `${r.toFixed(2)} dep/s (${t.seconds.toFixed(1)} s)`;
    const cpu = (t: Throughput) =>
      `CPU busy ${(t.busy * 100).toFixed(0)} %, workers ${t.workers.toFixed(1)} s + commands ${t.commands.toFixed(1)} s`;
    row(`${label}: ${BATCH} at once, 1 worker proc`, v(r1, f.one), `baseline; ${cpu(f.one)}`);
    row(
      `${label}: ${BATCH} at once, 2 worker procs`,
      v(r2, f.two),
      `${(r2 / r1).toFixed(2)} × 1 proc (target ≥ 1.7); ${cpu(f.two)}`,
    );
  }
  const bare = median(f.bare);
  const { buildSetup, setupDeploy } = f.handoff;
  const all = [...buildSetup, ...setupDeploy];
  const total = (hs: Hop[]) => hs.map((h) => h.total);
  const times = (hs: Hop[]) => `${(median(total(hs)) / bare).toFixed(2)} × bare`;
  row(`${label}: bare BullMQ hop (${f.bare.length}), med / p99`, lat(f.bare), 'baseline');
  row(`${label}: hand-off build → setup, med / p99`, lat(total(buildSetup)), times(buildSetup));
  row(`${label}: hand-off setup → deploy, med / p99`, lat(total(setupDeploy)), times(setupDeploy));
  row(
    `${label}: hand-off, both (${all.length}), med / p99`,
    lat(total(all)),
    `${times(all)} (target ≤ 3)`,
  );
  const part = (k: keyof Hop) => median(all.map((h) => h[k])).toFixed(1);
  row(
    `${label}: hand-off parts, medians`,
    '',
    `finished → job added ${part('relay')} ms (end tx + relay), → worker fetch ${part('queue')} ms, → claim tx ${part('claim')} ms`,
  );
}

/** Measures Redis (and the PostgreSQL backend) and prints the table of figures and ratios. */
export async function main(opts: { pgThroughput?: boolean } = {}): Promise<void> {
  const load = os.loadavg()[0];
  const redis = await measure('redis', true);
  const pg = await measure('postgres', opts.pgThroughput ?? false);
  console.log(
    `runs bench: hello-web on local targets, WORKER_CONCURRENCY ${ENV.WORKER_CONCURRENCY}, ` +
      `HOST_CONCURRENCY ${ENV.HOST_CONCURRENCY}; hand-offs from ${HANDOFFS} deployments, ` +
      `${IN_FLIGHT} at a time, 1 worker proc (p99 of 20 ≈ max)\n` +
      `machine load average ${load.toFixed(1)} at start, ${os.loadavg()[0].toFixed(1)} at end (${os.cpus().length} cores)`,
  );
  report('Redis', redis);
  report('PostgreSQL', pg);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await main({ pgThroughput: process.argv.includes('--pg-throughput') });
  process.exit(0);
}
