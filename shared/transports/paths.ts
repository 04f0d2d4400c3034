/** Keeping target paths inside a target's workdir. */
import path from 'node:path';

/**
 * Resolves `rel` inside `root` and throws when it would escape. Remote (SSH) paths are POSIX
 * whatever the worker runs on, so callers may pass `path.posix`.
 */
export function insideDir(root: string, rel: string, paths: path.PlatformPath = path): string {
  const full = paths.resolve(root, rel);
  const base = root.endsWith(paths.sep) ? root : root + paths.sep;
  if (full !== root && !full.startsWith(base)) {
    throw new Error(`path escapes the target directory: ${rel}`);
  }
  return full;
}
