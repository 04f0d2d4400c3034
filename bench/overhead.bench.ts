/**
 * Overhead benchmark: execute → `deployed` of hello-web on a local target through stagecoach
 * (HTTP API, real workers in this process, Redis queues) against the shell floor: a bash script
 * doing the same steps directly (tar -czf of the bundle's tree, extract, chmod, manage.sh
 * setup / build / start / health / promote). Ratio in the same run, median of rounds.
 * The end of stagecoach's run is seen through PostgreSQL's NOTIFY (the history trigger's), not
 * by polling: a 10 ms poll added 5 ms on average to every figure and its queries competed with
 * the run for this machine's two cores, while the floor is timed to the exit of its script.
 * Run: npx tsx bench/overhead.bench.ts [rounds]
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Knex } from 'knex';
import pg from 'pg';
import { buildBundle } from '../shared/bundle/build.js';
import { manifestSchema } from '../shared/manifest.js';
import { buildManifest } from '../test/factories.js';
import { createHarness } from '../test/helpers/harness.js';
import { serve, type ApiClient } from '../test/helpers/http.js';
import { freePort } from '../test/helpers/ports.js';
import { TEST_DATABASE_URL } from '../test/helpers/env.js';
import { median } from './pipeline.bench.js';
import { atMost, printTable, type BenchRow } from './table.js';

const run = promisify(execFile);

/**
 * What stagecoach does for hello-web on a local target, without stagecoach: $1 the bundle's
 * tree, $2 the target's home, $3 the health timeout. Every step stagecoach runs (the checks of
 * what is already there aside) is here, in the same order.
 */
const FLOOR = `set -euo pipefail
tree=$1 home=$2 timeout=$3
mkdir -p "$home/bundles" "$home/releases"
tar -czf "$home/bundles/b.tar.gz" -C "$tree" .
r=$home/releases/r
mkdir -m 700 "$r.tmp"
tar -xzf "$home/bundles/b.tar.gz" -C "$r.tmp"
chmod -R go= "$r.tmp"
mv "$r.tmp" "$r"
cd "$r"
export STAGECOACH_HOME=$home
./manage.sh setup >/dev/null
./manage.sh build >/dev/null
./manage.sh start >/dev/null
./manage.sh health "$timeout" >/dev/null
./manage.sh promote >/dev/null
`;

/** The bundle's tree for `manifest`, unpacked into `dir` (built outside the timing). */
async function bundleTree(manifest: unknown, dir: string, cacheDir: string): Promise<void> {
  const built = await buildBundle({
    manifest: manifestSchema.parse(manifest),
    scenariosDir: process.cwd(),
    cacheDir,
  });
  await mkdir(dir, { recursive: true });
  await run('tar', ['-xzf', built.path, '-C', dir]);
}

/** Times the shell floor once (ms) and stops what it started. */
async function floorOnce(root: string, round: number): Promise<number> {
  const manifest = buildManifest({
    ports: { web: await freePort() },
    target: { type: 'local', workdir: `floor-${round}` },
  });
  const tree = path.join(root, `tree-${round}`);
  const home = path.join(root, `floor-${round}`);
  await bundleTree(manifest, tree, path.join(root, 'cache'));
  const start = process.hrtime.bigint();
  await run('bash', ['-c', FLOOR, 'floor', tree, home, '30']);
  const took = Number(process.hrtime.bigint() - start) / 1e6;
  await run('./manage.sh', ['stop'], {
    cwd: path.join(home, 'releases', 'r'),
    env: { PATH: process.env.PATH, STAGECOACH_HOME: home },
  });
  return took;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Time (ms) from the execute POST until the row shows `deployed` with no run active, read when
 * a NOTIFY for the deployment arrives (and every 250 ms in case one is missed); then waits out
 * the inspect that follows, outside the timing, so the next round starts on a quiet machine.
 */
async function timedExecute(api: ApiClient, db: Knex, listener: pg.Client, id: string) {
  let wake = (): void => undefined;
  const onNotify = (n: pg.Notification) => n.payload?.startsWith(`${id}:`) && wake();
  listener.on('notification', onNotify);
  try {
    const start = process.hrtime.bigint();
    const res = await api.call('POST', `/api/v1/deployments/${id}/execute`, {});
    if (res.status !== 202) {
      throw new Error(`execute: ${JSON.stringify(res.body)}`);
    }
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      const woken = new Promise<void>((resolve) => (wake = resolve));
      const d = await db('deployments').where({ id }).first('status', 'run_kind', 'error_message');
      if (d.run_kind === null && (d.status === 'deployed' || d.status === 'failed')) {
        const took = Number(process.hrtime.bigint() - start) / 1e6;
        if (d.status !== 'deployed') {
          throw new Error(`execute ended ${d.status}: ${d.error_message}`);
        }
        await inspected(db, id);
        return took;
      }
      await Promise.race([woken, sleep(250)]);
    }
    throw new Error('execute: not deployed after 60 s');
  } finally {
    listener.removeListener('notification', onNotify);
  }
}

/** Waits (at most 10 s) for the inspect that follows the deploy. */
async function inspected(db: Knex, id: string): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(20)) {
    const d = await db('deployments').where({ id }).first('last_inspected_at', 'last_deployed_at');
    if (d.last_inspected_at && d.last_inspected_at >= d.last_deployed_at) {
      return;
    }
  }
}

/** Measures both sides `rounds` times, alternating, and returns the table's row. */
export async function rows(rounds = 5): Promise<BenchRow[]> {
  const root = await mkdtemp(path.join(tmpdir(), 'stagecoach-bench-floor-'));
  const h = await createHarness('redis');
  h.startWorkers();
  const api = await serve(h.app);
  const listener = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await listener.connect();
  await listener.query('listen stagecoach_events');
  const floor: number[] = [];
  const through: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      floor.push(await floorOnce(root, i));
      const manifest = buildManifest({
        ports: { web: await freePort() },
        target: { type: 'local', workdir: `targets/overhead-${i}` },
      });
      const id = (await api.call('POST', '/api/v1/deployments', { manifest })).body.deployment.id;
      through.push(await timedExecute(api, h.db, listener, id));
      await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await api.waitFor(id, ['stopped']);
    }
  } finally {
    await listener.end();
    await api.close();
    await h.close();
    await rm(root, { recursive: true, force: true });
  }
  const [s, f] = [median(through), median(floor)];
  return [
    atMost(
      'execute → deployed through stagecoach vs a shell script doing the same steps (hello-web, local)',
      s / f,
      1.15,
      `${s.toFixed(0)} ms vs ${f.toFixed(0)} ms, median of ${rounds}`,
    ),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  printTable(await rows(Number(process.argv[2]) || 5));
  process.exit(0);
}
