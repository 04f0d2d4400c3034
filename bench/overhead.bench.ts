/**
 * Overhead benchmark: execute → `deployed` of hello-web on a local target through stagecoach
 * (HTTP API, real workers in this process, Redis queues) against the shell floor: a bash script
 * doing the same steps directly (tar -czf of the bundle's tree, extract, chmod, manage.sh
 * setup / build / start / health / promote). Ratio in the same run, median of rounds.
 * Run: npx tsx bench/overhead.bench.ts [rounds]
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { buildBundle } from '../shared/bundle/build.js';
import { manifestSchema } from '../shared/manifest.js';
import { buildManifest } from '../test/factories.js';
import { createHarness } from '../test/helpers/harness.js';
import { serve } from '../test/helpers/http.js';
import { freePort } from '../test/helpers/ports.js';
import { median, timedAction } from './pipeline.bench.js';
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

/** Measures both sides `rounds` times, alternating, and returns the table's row. */
export async function rows(rounds = 5): Promise<BenchRow[]> {
  const root = await mkdtemp(path.join(tmpdir(), 'stagecoach-bench-floor-'));
  const h = await createHarness('redis');
  h.startWorkers();
  const api = await serve(h.app);
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
      through.push(await timedAction(api, id, 'execute', h.db));
      await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await api.waitFor(id, ['stopped']);
    }
  } finally {
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
