/**
 * Memory benchmark: peak RSS of a separate worker-like process (bench/memory-child.ts) that
 * builds and ships (setup's transfer step: index, store plan, upload) a scenario of many small
 * files, and one of a single large file. The budget is absolute (200 MB each); the ratio is
 * peak / budget.
 * Run: npx tsx bench/memory.bench.ts [files] [largeMiB] [--ssh]
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { startSshd, type Sshd } from '../test/helpers/sshd.js';
import type { BenchRow } from './table.js';

const run = promisify(execFile);
const BUDGET_MB = 200;
const CHILD = fileURLToPath(new URL('./memory-child.ts', import.meta.url));
const SCENARIO_JSON = JSON.stringify({
  name: 'memory',
  services: [{ name: 'web', start: 'node s.js', port: 'web' }],
});

/** `files` small text files (1–200 bytes) in directories of 1,000, as a node_modules-like tree. */
async function manyFiles(dir: string, files: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'scenario.json'), SCENARIO_JSON);
  for (let d = 0; d * 1000 < files; d++) {
    const sub = path.join(dir, `pkg-${d}`, 'lib');
    await mkdir(sub, { recursive: true });
    const names = Array.from({ length: Math.min(1000, files - d * 1000) }, (_, i) => i);
    await Promise.all(
      names.map((i) =>
        writeFile(path.join(sub, `m${i}.js`), `exports.v = ${'1'.repeat(i % 200)};\n`),
      ),
    );
  }
}

/**
 * One file of `mib` MiB. Sparse (zeros): memory does not depend on the bytes, and zeros gzip
 * fast enough to keep `npm run bench` in its time budget; every byte is still read and packed.
 */
async function oneLargeFile(dir: string, mib: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'scenario.json'), SCENARIO_JSON);
  const fh = await open(path.join(dir, 'large.bin'), 'w');
  await fh.truncate(mib * 1024 * 1024);
  await fh.close();
}

interface ChildResult {
  idleMb: number;
  peakMb: number;
  buildMs: number;
  shipMs: number;
  bundleBytes: number;
}

/** Runs the child on one scenario and returns what it printed. */
async function measure(root: string, scenario: string, sshd?: Sshd): Promise<ChildResult> {
  const env = { ...process.env };
  if (sshd) {
    Object.assign(env, {
      SSH_PORT: String(sshd.port),
      SSH_USER: sshd.user,
      SSH_KEY: sshd.clientKeyPath,
    });
  }
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      CHILD,
      path.join(root, 'scenarios'),
      scenario,
      path.join(root, `cache-${scenario}`),
      path.join(root, `target-${scenario}`),
    ],
    { env, maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as ChildResult;
}

const row = (figure: string, r: ChildResult): BenchRow => ({
  figure,
  ratio: r.peakMb / BUDGET_MB,
  detail: `peak RSS ${r.peakMb.toFixed(0)} MB (idle ${r.idleMb.toFixed(0)} MB), build ${(r.buildMs / 1000).toFixed(1)} s, transfer ${(r.shipMs / 1000).toFixed(1)} s`,
  target: `≤ ${BUDGET_MB} MB`,
  met: r.peakMb <= BUDGET_MB,
});

/** Builds both scenarios, measures each in its own process, returns the two rows. */
export async function rows(files = 100_000, largeMib = 1024, ssh = false): Promise<BenchRow[]> {
  const root = await mkdtemp(path.join(tmpdir(), 'stagecoach-bench-memory-'));
  const sshd = ssh ? await startSshd() : undefined;
  try {
    await manyFiles(path.join(root, 'scenarios', 'many'), files);
    await oneLargeFile(path.join(root, 'scenarios', 'large'), largeMib);
    const how = ssh ? 'over loopback SSH' : 'to a local target';
    const many = await measure(root, 'many', sshd);
    const large = await measure(root, 'large', sshd);
    return [
      row(
        `worker peak RSS building and shipping ${files.toLocaleString('en')} files (${how})`,
        many,
      ),
      row(`worker peak RSS building and shipping a ${largeMib} MiB file (${how})`, large),
    ];
  } finally {
    await sshd?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { printTable } = await import('./table.js');
  const args = process.argv.slice(2);
  const [files, mib] = args.filter((a) => !a.startsWith('--')).map(Number);
  printTable(await rows(files || 100_000, mib || 1024, args.includes('--ssh')));
  process.exit(0);
}
