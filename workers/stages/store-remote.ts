/**
 * The target's file store commands (scripts/target/lib/store.sh), sent as text with lib/json.sh
 * ahead of it: they run before the bundle, and so its lib/, is on the target.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { StepError } from '../../shared/errors.js';
import type { Transport } from '../../shared/transports/types.js';
import { outputTail, parseResult } from '../remote.js';

/** json.sh and store.sh from the worker's scripts directory. */
export async function loadStoreScript(scriptsDir: string): Promise<string> {
  const parts = await Promise.all(
    ['lib/json.sh', 'lib/store.sh'].map((f) => readFile(path.join(scriptsDir, f), 'utf8')),
  );
  return parts.join('\n');
}

/** argv of `store_main CMD WORKDIR SHA ARG`: the script is a constant, every datum an argument. */
export function storeArgv(
  script: string,
  cmd: 'plan' | 'full' | 'delta',
  workdir: string,
  sha: string,
  arg: string,
): string[] {
  return ['bash', '-c', `${script}\nstore_main "$@"\n`, 'store', cmd, workdir, sha, arg];
}

/** The target's answer to `store plan`: the keys it lacks and whether it holds the tar.gz. */
export interface StorePlan {
  missing: Set<string>;
  /** Blobs found damaged (content or mode) and dropped: they count as missing. */
  repaired: number;
  hasBundle: boolean;
}

/** Runs `store plan` for `bundles/<sha>.keys` (already uploaded, with sha256 `keysSha`). */
export async function storePlan(
  t: Transport,
  script: string,
  sha: string,
  keysSha: string,
): Promise<StorePlan> {
  let stdout = ''; // every line: an ExecResult keeps only a bounded tail
  const r = await t.exec(storeArgv(script, 'plan', t.workdir, sha, keysSha), {
    onOutput: (stream, chunk) => {
      if (stream === 'stdout') {
        stdout += chunk;
      }
    },
  });
  if (r.code !== 0) {
    const code = r.code === 4 ? 'transfer_corrupt' : 'transfer_failed';
    throw new StepError('transfer', code, `store plan failed (exit ${r.code}): ${outputTail(r)}`);
  }
  const result = parseResult(r, 'transfer');
  const missing = new Set(
    stdout
      .split('\n')
      .filter((l) => l.startsWith('missing '))
      .map((l) => l.slice('missing '.length)),
  );
  if (missing.size !== result.missing) {
    throw new StepError(
      'transfer',
      'target_output_invalid',
      `store plan listed ${missing.size} missing blobs but counted ${String(result.missing)}`,
    );
  }
  return { missing, repaired: Number(result.repaired), hasBundle: result.bundle === true };
}
