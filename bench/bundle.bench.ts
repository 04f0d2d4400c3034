/**
 * Bundle build benchmark: a synthetic scenario (~2,000 files, ~100 MB) built fresh and from the
 * cache, compared with `tar -czf` of the same tree in the same run (median of runs). The tree is
 * left to age past RACY_MS first, as a checked-out scenario is, so the cached rebuild may use
 * the stat key (shared/bundle/stat-key.ts).
 * Run: npx tsx bench/bundle.bench.ts [files] [totalMB] [runs]
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { buildBundle } from '../shared/bundle/build.js';
import { RACY_MS } from '../shared/bundle/stat-key.js';
import { manifestSchema } from '../shared/manifest.js';
import { atMost, printTable, type BenchRow } from './table.js';

/** Shape of the synthetic tree and how often each measurement repeats. */
export interface BenchOptions {
  files: number;
  totalBytes: number;
  runs: number;
}

const LARGE_SHARE = 0.5; // half the bytes sit in 2.5% of the files, as assets tend to

/** Writes the synthetic scenario; half the files random bytes, half compressible hex text. */
async function makeScenario(dir: string, opts: BenchOptions): Promise<void> {
  const large = Math.max(1, Math.round(opts.files * 0.025));
  const small = opts.files - large;
  const sizes = [
    ...Array.from({ length: large }, () => (opts.totalBytes * LARGE_SHARE) / large),
    ...Array.from({ length: small }, () => (opts.totalBytes * (1 - LARGE_SHARE)) / small),
  ].map((avg) => Math.max(1, Math.round(avg * (0.5 + Math.random()))));
  await writeFile(
    path.join(dir, 'scenario.json'),
    JSON.stringify({ name: 'bench', services: [{ name: 'web', start: 'node s.js', port: 'web' }] }),
  );
  for (let i = 0; i < sizes.length; i++) {
    const sub = path.join(dir, `d${i % 40}`, `e${i % 7}`);
    await mkdir(sub, { recursive: true });
    const body =
      i % 2 ? randomBytes(sizes[i]) : Buffer.from(randomBytes(sizes[i] >> 1).toString('hex'));
    await writeFile(path.join(sub, `f${i}.dat`), body);
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Highest RSS seen while `fn` runs (sampled every 20 ms). */
async function peakRss(fn: () => Promise<unknown>): Promise<number> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage().rss);
}

/** Builds the tree, measures tar/fresh/cached `runs` times each, returns the two rows. */
export async function rows(
  opts: BenchOptions = { files: 2000, totalBytes: 100e6, runs: 3 },
): Promise<BenchRow[]> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-bench-'));
  try {
    const scenarioDir = path.join(root, 'scenarios', 'bench');
    const scriptsDir = path.join(root, 'scripts');
    await mkdir(scenarioDir, { recursive: true });
    await mkdir(scriptsDir);
    await writeFile(path.join(scriptsDir, 'manage.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(path.join(scriptsDir, 'setup.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(path.join(scriptsDir, 'supervise.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await mkdir(path.join(scriptsDir, 'lib'));
    await writeFile(path.join(scriptsDir, 'lib', 'common.sh'), '# sourced\n');
    await makeScenario(scenarioDir, opts);
    const written = Date.now();
    const manifest = manifestSchema.parse({
      version: 1,
      scenario: { path: 'bench' },
      target: { type: 'local', workdir: 'targets/bench' },
      ports: { web: 18080 },
      env: { SECRET: 'x' },
    });
    const build = (cacheDir: string) =>
      buildBundle({ manifest, scenariosDir: path.join(root, 'scenarios'), cacheDir, scriptsDir });
    const times = { tar: [] as number[], fresh: [] as number[], cached: [] as number[] };
    let [bundleBytes, tarBytes] = [0, 0];
    let rss = 0;
    for (let run = 0; run < opts.runs; run++) {
      const tarOut = path.join(root, `baseline-${run}.tar.gz`);
      times.tar.push(
        await timed(() => promisify(execFile)('tar', ['-czf', tarOut, '-C', scenarioDir, '.'])),
      );
      await new Promise((r) => setTimeout(r, Math.max(0, written + RACY_MS + 100 - Date.now())));
      const cacheDir = path.join(root, `cache-${run}`);
      const before = process.memoryUsage().rss;
      rss = Math.max(
        rss,
        (await peakRss(async () => times.fresh.push(await timed(() => build(cacheDir))))) - before,
      );
      times.cached.push(await timed(() => build(cacheDir)));
      bundleBytes = (await build(cacheDir)).size_bytes;
      tarBytes = (await stat(tarOut)).size;
      await rm(tarOut);
      await rm(cacheDir, { recursive: true });
    }
    const [tar, fresh, cached] = [median(times.tar), median(times.fresh), median(times.cached)];
    const tree = `${opts.files.toLocaleString('en')}-file / ${(opts.totalBytes / 1e6).toFixed(0)} MB tree`;
    return [
      atMost(
        `bundle, fresh build vs \`tar -czf\` of the same ${tree}`,
        fresh / tar,
        1.0,
        `${fresh.toFixed(2)} s vs ${tar.toFixed(2)} s, median of ${opts.runs}; ${(bundleBytes / 1e6).toFixed(1)} MB vs ${(tarBytes / 1e6).toFixed(1)} MB; RSS +${(rss / 1e6).toFixed(0)} MB`,
      ),
      atMost(
        'bundle, cached rebuild vs fresh build',
        cached / fresh,
        0.05,
        `${(cached * 1000).toFixed(0)} ms vs ${fresh.toFixed(2)} s, median of ${opts.runs}`,
      ),
    ];
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [files, mb, runs] = process.argv.slice(2).map(Number);
  printTable(await rows({ files: files || 2000, totalBytes: (mb || 100) * 1e6, runs: runs || 3 }));
}
