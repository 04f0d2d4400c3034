/**
 * Ships a bundle to a target: the whole tar.gz when the target's store has little of it (a first
 * deploy), else a delta of only the file contents it lacks (scripts/target/lib/store.sh).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import type { BundleIndex } from '../../shared/bundle/bundle-index.js';
import { bundleFile, tempPath, unlinkQuietly } from '../../shared/bundle/cache.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StepHandle } from '../recorder.js';
import { runChecked } from '../remote.js';
import { firstPaths, keysText, storeKey, writeDeltaTar, writeLinksTar } from './delta-files.js';
import { storeArgv, storePlan, type StorePlan } from './store-remote.js';
import { readTransferInputs, type TransferDirs, type TransferInputs } from './transfer-inputs.js';

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
}

/**
 * Uploads a local file, counting its bytes; its sha256, which the target's store command checks
 * the upload against before it uses it (so no separate check after the upload).
 */
async function put(c: Ctx, local: string, remote: string, sha?: string): Promise<string> {
  const [sum, st] = await settleAll([
    sha ?? sha256File(local),
    stat(local),
    c.t.putFile(local, remote),
  ] as const);
  c.outcome.bytes_sent += st.size;
  return sum;
}

/** Promise.all that waits for every promise (nothing runs on after a failure), then rejects. */
async function settleAll<T extends readonly unknown[]>(
  promises: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) {
    throw (failed as PromiseRejectedResult).reason;
  }
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
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

/**
 * Uploads the tar.gz (unless the target has it) and, beside it, the store links (written while
 * the bundle travels); the `store full` argument.
 */
async function sendFull(c: Ctx, plan: StorePlan, h: StepHandle): Promise<Transfer['apply']> {
  const sha = c.index.bundle;
  if (plan.hasBundle) {
    h.output('stdout', `target already holds bundles/${sha}.tar.gz; upload skipped\n`);
  }
  const [arg] = await settleAll([
    putTemp(c, `bundles/${sha}.links.tar.gz`, (f) => writeLinksTar(c.index, f)),
    plan.hasBundle ? undefined : put(c, bundleFile(c.cacheDir, sha), `bundles/${sha}.tar.gz`, sha),
  ] as const);
  if (!plan.hasBundle) {
    c.outcome.files_sent = c.outcome.files_total;
  }
  return { cmd: 'full', arg };
}

/** The store plan of a target without a store: every blob is missing, no tar.gz is there. */
function emptyStorePlan(index: BundleIndex): StorePlan {
  return { missing: new Set(firstPaths(index).keys()), repaired: 0, hasBundle: false };
}

/**
 * Step `transfer`: uploads the store keys, asks the target what it lacks, then uploads the
 * bundle or a delta. A target without a store (`store: false`, from preflight) lacks
 * everything: the keys and the question are skipped. What arrived is checked by its sha256 in
 * the extract step's store command (`transfer_corrupt` when it differs).
 */
export async function transferBundle(
  t: Transport,
  dirs: TransferDirs,
  bundle: { sha256: string; size_bytes: number },
  h: StepHandle,
  target: { store: boolean } = { store: true },
  inputs: Promise<TransferInputs> = readTransferInputs(dirs, bundle.sha256),
): Promise<Transfer> {
  const sha = bundle.sha256;
  const { index, script } = await inputs;
  const files_total = index.entries.filter((e) => e.type === 'file').length;
  const outcome: TransferOutcome = {
    ...{ uploaded: false, mode: 'full', bytes_sent: 0, bytes_total: bundle.size_bytes },
    ...{ files_sent: 0, files_total, store_repaired: 0 },
  };
  const c: Ctx = { t, cacheDir: dirs.cacheDir, index, outcome };
  let plan: StorePlan;
  if (target.store) {
    const keysSha = await putTemp(c, `bundles/${sha}.keys`, (f) =>
      writeFile(f, keysText(index), { mode: 0o600, flag: 'wx' }),
    );
    plan = await storePlan(t, script, sha, keysSha);
  } else {
    h.output('stdout', `${t.describe} has no file store yet: the whole bundle goes\n`);
    plan = emptyStorePlan(index);
  }
  outcome.store_repaired = plan.repaired;
  const apply =
    !plan.hasBundle && deltaPays(index, plan.missing, bundle.size_bytes)
      ? await sendDelta(c, plan)
      : await sendFull(c, plan, h);
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
