/**
 * Ships a bundle to a target: the whole tar.gz when the target's store has little of it (a first
 * deploy), else a delta of only the file contents it lacks (scripts/target/lib/store.sh).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { loadBundleIndex, type BundleIndex } from '../../shared/bundle/bundle-index.js';
import { bundleFile, tempPath, unlinkQuietly } from '../../shared/bundle/cache.js';
import { StepError } from '../../shared/errors.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StepHandle } from '../recorder.js';
import { runChecked } from '../remote.js';
import { keysText, storeKey, writeDeltaTar, writeLinksTar } from './delta-files.js';
import {
  checkArrived,
  loadStoreScript,
  storeArgv,
  storePlan,
  type StorePlan,
} from './store-remote.js';

/** What setup_result records of a transfer. */
export interface TransferOutcome {
  /** The bundle's contents went over, whole or as a delta (false: the target had the tar.gz). */
  uploaded: boolean;
  mode: 'full' | 'delta';
  /** Bytes passed to putFile (keys, bundle or payload, links). */
  bytes_sent: number;
  /** The bundle's size (what a full upload sends). */
  bytes_total: number;
  files_sent: number;
  files_total: number;
  /** Store blobs found damaged on the target and sent again. */
  store_repaired: number;
}

/** Where a transfer stands between the transfer and extract steps. */
export interface Transfer {
  outcome: TransferOutcome;
  /** The store command and the sha256 of what it assembles from. */
  apply: { cmd: 'full' | 'delta'; arg: string };
  script: string;
}

/** A delta larger than this share of the bundle is not worth it: the tar.gz goes instead. */
const DELTA_MAX_SHARE = 0.6;
/** Rough gzipped bytes a delta spends on each entry (keys, sums, tree, link header). */
const DELTA_ENTRY_BYTES = 150;

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/** Everything one transfer needs. */
interface Ctx {
  t: Transport;
  cacheDir: string;
  index: BundleIndex;
  outcome: TransferOutcome;
  /** Uploaded path → the sha256 it was sent with. */
  uploads: Map<string, string>;
}

/** Uploads a local file, counting its bytes and recording its sha256. */
async function put(c: Ctx, local: string, remote: string, sha?: string): Promise<string> {
  await c.t.putFile(local, remote);
  c.outcome.bytes_sent += (await stat(local)).size;
  const sum = sha ?? (await sha256File(local));
  c.uploads.set(remote, sum);
  return sum;
}

/** Writes a temp file with `write`, uploads it to `remote`, always removes it; its sha256. */
async function putTemp(c: Ctx, remote: string, write: (f: string) => Promise<void>) {
  const file = tempPath(c.cacheDir, remote.slice(remote.indexOf('.')));
  try {
    await write(file);
    return await put(c, file, remote);
  } finally {
    await unlinkQuietly(file);
  }
}

/** True when a delta of `missing` is worth sending instead of the bundle of `size` bytes. */
function deltaPays(index: BundleIndex, missing: ReadonlySet<string>, size: number): boolean {
  let raw = 0;
  let missingRaw = 0;
  for (const e of index.entries) {
    if (e.type === 'file') {
      raw += e.size;
      missingRaw += missing.has(storeKey(e)) ? e.size : 0;
    }
  }
  // the bundle compresses contents about as the payload will
  const estimate =
    (missingRaw / Math.max(raw, 1)) * size + index.entries.length * DELTA_ENTRY_BYTES;
  return estimate < DELTA_MAX_SHARE * size;
}

/** Uploads the delta payload; the `store delta` argument. */
async function sendDelta(c: Ctx, plan: StorePlan): Promise<Transfer['apply']> {
  const sha = c.index.bundle;
  c.outcome.mode = 'delta';
  const arg = await putTemp(c, `bundles/${sha}.delta.tar.gz`, async (f) => {
    const stats = await writeDeltaTar(c.index, bundleFile(c.cacheDir, sha), plan.missing, f);
    c.outcome.files_sent = stats.files_sent;
  });
  return { cmd: 'delta', arg };
}

/** Uploads the tar.gz (unless the target has it) and the store links; the `store full` argument. */
async function sendFull(c: Ctx, plan: StorePlan, h: StepHandle): Promise<Transfer['apply']> {
  const sha = c.index.bundle;
  if (plan.hasBundle) {
    h.output('stdout', `target already holds bundles/${sha}.tar.gz; upload skipped\n`);
  } else {
    await put(c, bundleFile(c.cacheDir, sha), `bundles/${sha}.tar.gz`, sha);
    c.outcome.files_sent = c.outcome.files_total;
  }
  const arg = await putTemp(c, `bundles/${sha}.links.tar.gz`, (f) => writeLinksTar(c.index, f));
  return { cmd: 'full', arg };
}

/** The index of the cached bundle; a missing or damaged cache file is a StepError. */
async function localIndex(cacheDir: string, sha: string): Promise<BundleIndex> {
  try {
    return await loadBundleIndex(cacheDir, sha);
  } catch (err) {
    const gone = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new StepError(
      'transfer',
      gone ? 'bundle_missing' : 'transfer_corrupt',
      `the cached bundle ${sha} cannot be read (${(err as Error).message}); Retry with a rebuild`,
      { cause: err },
    );
  }
}

/**
 * Step `transfer`: uploads the store keys, asks the target what it lacks, uploads the bundle
 * or a delta, and checks what arrived by its sha256 (`transfer_corrupt` when it differs).
 */
export async function transferBundle(
  t: Transport,
  dirs: { cacheDir: string; scriptsDir: string },
  bundle: { sha256: string; size_bytes: number },
  h: StepHandle,
): Promise<Transfer> {
  const sha = bundle.sha256;
  const [index, script] = await Promise.all([
    localIndex(dirs.cacheDir, sha),
    loadStoreScript(dirs.scriptsDir),
  ]);
  const files_total = index.entries.filter((e) => e.type === 'file').length;
  const outcome: TransferOutcome = {
    ...{ uploaded: false, mode: 'full', bytes_sent: 0, bytes_total: bundle.size_bytes },
    ...{ files_sent: 0, files_total, store_repaired: 0 },
  };
  const c: Ctx = { t, cacheDir: dirs.cacheDir, index, outcome, uploads: new Map() };
  const keysSha = await putTemp(c, `bundles/${sha}.keys`, (f) =>
    writeFile(f, keysText(index), { mode: 0o600, flag: 'wx' }),
  );
  const plan = await storePlan(t, script, sha, keysSha);
  outcome.store_repaired = plan.repaired;
  const apply =
    !plan.hasBundle && deltaPays(index, plan.missing, bundle.size_bytes)
      ? await sendDelta(c, plan)
      : await sendFull(c, plan, h);
  c.uploads.delete(`bundles/${sha}.keys`); // store plan checked it already
  await checkArrived(t, c.uploads, h);
  outcome.uploaded = outcome.mode === 'delta' || !plan.hasBundle;
  h.output(
    'stdout',
    `${outcome.mode} upload: ${outcome.bytes_sent} bytes sent for a ${bundle.size_bytes}-byte bundle (${outcome.files_sent} of ${files_total} files) to ${t.describe}\n`,
  );
  return { outcome, apply, script };
}

/**
 * Step `extract`: assembles releases/<sha> from what `transferBundle` sent; a file that does
 * not match the bundle fails with `transfer_corrupt` and leaves no release behind.
 */
export async function applyTransfer(
  t: Transport,
  transfer: Transfer,
  sha: string,
  h: StepHandle,
): Promise<void> {
  const { cmd, arg } = transfer.apply;
  await runChecked(t, storeArgv(transfer.script, cmd, t.workdir, sha, arg), {
    step: 'extract',
    code: 'extract_failed',
    handle: h,
    exitCodes: { 4: 'transfer_corrupt' },
  });
}
