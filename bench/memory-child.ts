/**
 * The measured process of bench/memory.bench.ts: loads what a worker loads, builds the bundle
 * of one scenario into a fresh cache, ships it to a target (local directory, or loopback SSH
 * when SSH_* are given) as setup's transfer step does (the bundle's index, store keys and plan,
 * the upload and its store links; assembling the release is the target's work, not measured),
 * and prints its peak RSS (getrusage maxrss, the kernel's high-water mark) as one JSON line.
 * Args: scenariosDir scenario cacheDir targetDir.
 */
import path from 'node:path';
import { buildBundle, DEFAULT_SCRIPTS_DIR } from '../shared/bundle/build.js';
import { manifestSchema } from '../shared/manifest.js';
import { LocalTransport } from '../shared/transports/local.js';
import { connectSsh } from '../shared/transports/ssh.js';
import type { Transport } from '../shared/transports/types.js';
import { transferBundle } from '../workers/stages/transfer.js';
// what a worker process holds besides the bundle code (queues, database, stages)
import '../workers/start.js';

const [scenariosDir, scenario, cacheDir, targetDir] = process.argv.slice(2);
const { SSH_PORT, SSH_USER, SSH_KEY } = process.env;
const idleKb = process.resourceUsage().maxRSS;
const manifest = manifestSchema.parse({
  version: 1,
  scenario: { path: scenario },
  target: { type: 'local', workdir: 'targets/memory' },
  ports: { web: 18080 },
  env: {},
});
const start = process.hrtime.bigint();
const built = await buildBundle({ manifest, scenariosDir, cacheDir, maxBytes: 4 * 1024 ** 3 });
const buildMs = Number(process.hrtime.bigint() - start) / 1e6;
const t: Transport = SSH_PORT
  ? await connectSsh({
      host: '127.0.0.1',
      port: Number(SSH_PORT),
      user: SSH_USER ?? 'root',
      keyPath: SSH_KEY ?? '',
      keysDir: path.dirname(SSH_KEY ?? '/'),
      workdir: targetDir,
    })
  : new LocalTransport(targetDir);
const shipStart = process.hrtime.bigint();
try {
  const quiet = { output: () => undefined };
  await transferBundle(t, { cacheDir, scriptsDir: DEFAULT_SCRIPTS_DIR }, built, quiet);
} finally {
  await t.close();
}
console.log(
  JSON.stringify({
    idleMb: idleKb / 1024,
    peakMb: process.resourceUsage().maxRSS / 1024,
    buildMs,
    shipMs: Number(process.hrtime.bigint() - shipStart) / 1e6,
    bundleBytes: built.size_bytes,
  }),
);
process.exit(0);
