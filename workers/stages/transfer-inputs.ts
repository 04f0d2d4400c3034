/** What a transfer reads on the worker's side: the bundle's index and the store script. */
import { loadBundleIndex, type BundleIndex } from '../../shared/bundle/bundle-index.js';
import { StepError } from '../../shared/errors.js';
import { loadStoreScript } from './store-remote.js';

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

/** What a transfer reads on the worker's side before it sends anything. */
export interface TransferInputs {
  index: BundleIndex;
  /** lib/json.sh and lib/store.sh, sent as the store command's text. */
  script: string;
}

/**
 * Starts reading the bundle's index (computed and cached on a bundle's first transfer) and the
 * store script, so the caller can overlap it with remote work (setup runs it beside preflight).
 * A failure (`bundle_missing`, `transfer_corrupt`) surfaces where the promise is awaited.
 */
export function readTransferInputs(dirs: TransferDirs, sha: string): Promise<TransferInputs> {
  const inputs = Promise.all([localIndex(dirs.cacheDir, sha), loadStoreScript(dirs.scriptsDir)]);
  const settled = inputs.then(([index, script]) => ({ index, script }));
  settled.catch(() => undefined); // awaited by the transfer, unless setup skips it
  return settled;
}

/** Where a transfer reads from: the bundle cache and the target scripts. */
export interface TransferDirs {
  cacheDir: string;
  scriptsDir: string;
}
