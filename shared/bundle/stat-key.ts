/**
 * The stat key: a cache key computed from what the walk already knows (paths, modes, and each
 * file's device, inode, size, mtime and ctime), so an unchanged tree is found in
 * the cache without reading a byte. It maps to the content key (./input-key.ts) in
 * `<cacheDir>/stat-index/`; the content key stays the one that names what a bundle holds.
 *
 * Why it is safe: any write to a file, or a rename onto its name, sets its ctime to the
 * current time, and nothing short of setting the system clock can set ctime back. A file
 * whose ctime (or mtime) is within RACY_MS of the walk could still change within the same
 * timestamp tick without its stamp changing ("racy git"): a tree holding one gets no stat key
 * and is hashed in full, as is every tree when the walk did not record stamps.
 */
import { createHash } from 'node:crypto';
import type { BundleEntry } from './entries.js';
import { BUNDLE_FORMAT_VERSION, sha256 } from './input-key.js';

/** Files changed less than this before the walk are not trusted by their stamp. */
export const RACY_MS = 2000;
/** The cache's directory of stat key → content key records. */
export const STAT_INDEX = 'stat-index';

/** The stat key of `entries` walked at `walkStartMs` (Date.now()), or null when one is racy. */
export function statKey(entries: readonly BundleEntry[], walkStartMs: number): string | null {
  const limit = walkStartMs - RACY_MS;
  const key = createHash('sha256');
  key.update(`${BUNDLE_FORMAT_VERSION};stat-key=1\n`);
  for (const e of entries) {
    let line: unknown[];
    if (e.kind === 'file') {
      const { mtimeMs, ctimeMs } = e;
      if (mtimeMs === undefined || ctimeMs === undefined || mtimeMs >= limit || ctimeMs >= limit) {
        return null;
      }
      // µs precision is plenty: a change after the walk moves ctime by more than RACY_MS
      const ids = `${e.dev}:${e.ino}`;
      line = ['s', e.path, e.mode, e.size, ids, mtimeMs, ctimeMs];
    } else if (e.kind === 'buffer') {
      line = ['f', e.path, e.mode, sha256(e.content)];
    } else if (e.kind === 'symlink') {
      line = ['l', e.path, e.linkname];
    } else {
      line = ['d', e.path];
    }
    key.update(`${JSON.stringify(line)}\n`);
  }
  return key.digest('hex');
}
