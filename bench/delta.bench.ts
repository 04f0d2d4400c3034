/**
 * Delta bench (issue 10, item 2): a large scenario (2,000 files, ~32 MB) shipped over SSH (real
 * sshd on loopback) once, then again after a one-file change; bytes passed to putFile (counted
 * here, around the transport) against the bundle's size, and the time of each transfer.
 * Run: npx tsx bench/delta.bench.ts
 */
import { randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildBundle, DEFAULT_SCRIPTS_DIR, type BuiltBundle } from '../shared/bundle/index.js';
import { connectSsh } from '../shared/transports/ssh.js';
import type { Transport } from '../shared/transports/types.js';
import { applyTransfer, transferBundle } from '../workers/stages/transfer.js';
import { buildManifest, makeTempDir, removeTempDir, writeScenarioDir } from '../test/factories.js';
import { startSshd } from '../test/helpers/sshd.js';
import { atMost, printTable, type BenchRow } from './table.js';

const FILES = 2000;
const FILE_BYTES = 16 * 1024;

/** Counts the bytes of every file handed to putFile. */
function counting(t: Transport): Transport & { sent: number } {
  const c = Object.assign(Object.create(t) as Transport, { sent: 0 });
  c.putFile = async (local: string, remote: string) => {
    await t.putFile(local, remote);
    c.sent += (await stat(local)).size;
  };
  return c;
}

/** Ships `b` (transfer + assemble) and returns the bytes sent and the milliseconds it took. */
async function ship(t: Transport, cacheDir: string, b: BuiltBundle) {
  const c = counting(t);
  const quiet = { output: () => undefined };
  const started = performance.now();
  const transfer = await transferBundle(c, { cacheDir, scriptsDir: DEFAULT_SCRIPTS_DIR }, b, quiet);
  await applyTransfer(c, transfer, b.sha256, quiet);
  return { sent: c.sent, ms: performance.now() - started, outcome: transfer.outcome };
}

/** The delta rows of the closing table. */
export async function rows(): Promise<BenchRow[]> {
  const root = await makeTempDir('stagecoach-delta-bench-');
  const scenarios = path.join(root, 'scenarios');
  const cacheDir = path.join(root, 'cache');
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < FILES; i++) {
    files[`data/d${i % 40}/f${i}.bin`] = randomBytes(FILE_BYTES);
  }
  await writeScenarioDir(scenarios, { relPath: 'large', files });
  const build = () =>
    buildBundle({
      manifest: buildManifest({ scenario: { path: 'large' } }) as never,
      scenariosDir: scenarios,
      cacheDir,
    });
  const sshd = await startSshd();
  let t: Transport | undefined;
  try {
    t = await connectSsh({
      host: sshd.host,
      port: sshd.port,
      user: sshd.user,
      keyPath: sshd.clientKeyPath,
      keysDir: tmpdir(),
      workdir: path.join(root, 'target'),
    });
    const first = await build();
    const full = await ship(t, cacheDir, first);
    await writeFile(path.join(scenarios, 'large/data/d0/f0.bin'), randomBytes(FILE_BYTES));
    const second = await build();
    const delta = await ship(t, cacheDir, second);
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    return [
      atMost(
        'a one-file change to a large scenario: bytes sent over SSH vs bundle size',
        delta.sent / second.size_bytes,
        0.05,
        `${(delta.sent / 1e3).toFixed(0)} kB (${delta.outcome.files_sent} of ${delta.outcome.files_total} files, ${delta.outcome.mode}) vs ${mb(second.size_bytes)}; first deploy sent ${mb(full.sent)}`,
      ),
      {
        figure: 'a one-file change: transfer + assemble time vs the first (full) one',
        ratio: delta.ms / full.ms,
        detail: `${delta.ms.toFixed(0)} ms vs ${full.ms.toFixed(0)} ms (the bundle index computed once per bundle is in both)`,
        target: '',
        met: true,
      },
    ];
  } finally {
    await t?.close();
    await sshd.stop();
    await removeTempDir(root);
  }
}

/** Runs the bench and prints its table. */
export async function main(): Promise<void> {
  console.log(`delta bench: ${FILES} files of ${FILE_BYTES / 1024} KiB over SSH, one changed`);
  printTable(await rows());
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await main();
  process.exit(0);
}
