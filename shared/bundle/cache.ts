/** The on-disk bundle cache: `<sha256>.tar.gz` files, an `index/` by input key, atomic writes. */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isErrno } from './errors.js';

/** Prefix of in-progress files; never a valid final name, so readers can't mistake them. */
export const TEMP_PREFIX = '.tmp-';
/** Temp files older than this are leftovers of a crashed build and are removed. */
export const STALE_TEMP_MS = 60 * 60 * 1000;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Path of the cached bundle with this sha256. */
export function bundleFile(cacheDir: string, sha256: string): string {
  return path.join(cacheDir, `${sha256}.tar.gz`);
}

/** The index of content keys (input key → bundle sha256). */
export const INDEX = 'index';

/** Creates the cache and its index directories (mode 0700: bundles hold env secrets). */
export async function ensureCacheDirs(cacheDir: string, indexes = [INDEX]): Promise<void> {
  for (const dir of indexes) {
    await mkdir(path.join(cacheDir, dir), { recursive: true, mode: 0o700 });
  }
}

/** A fresh, unique temp file path inside `dir`. */
export function tempPath(dir: string, suffix = ''): string {
  return path.join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString('hex')}${suffix}`);
}

/** Removes temp files in `dir` older than STALE_TEMP_MS (a concurrent build's are younger). */
export async function removeStaleTemps(dir: string, now = Date.now()): Promise<void> {
  const names = (await readdir(dir)).filter((n) => n.startsWith(TEMP_PREFIX));
  await Promise.all(
    names.map(async (name) => {
      const file = path.join(dir, name);
      try {
        if (now - (await stat(file)).mtimeMs > STALE_TEMP_MS) {
          await unlink(file);
        }
      } catch (err) {
        if (!isErrno(err, 'ENOENT')) {
          throw err;
        }
      }
    }),
  );
}

/**
 * The sha256 recorded for `inputKey` in the index `dir` (a bundle's, or a content key in the
 * stat index), or null when there is none (or it is garbage).
 */
export async function readIndex(
  cacheDir: string,
  inputKey: string,
  dir = INDEX,
): Promise<string | null> {
  try {
    const text = (await readFile(path.join(cacheDir, dir, inputKey), 'utf8')).trim();
    return SHA256_HEX.test(text) ? text : null;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      return null;
    }
    throw err;
  }
}

/** Records `inputKey → sha256` in the index `sub` atomically (temp file, fsync, rename). */
export async function writeIndex(
  cacheDir: string,
  inputKey: string,
  sha256: string,
  sub = INDEX,
): Promise<void> {
  const dir = path.join(cacheDir, sub);
  const tmp = tempPath(dir);
  await writeFile(tmp, `${sha256}\n`, { mode: 0o600, flag: 'wx' });
  await publish(tmp, path.join(dir, inputKey));
}

/** Size of the file, or null when it does not exist. */
export async function sizeIfExists(file: string): Promise<number | null> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      return null;
    }
    throw err;
  }
}

/**
 * Makes a finished temp file visible under its final name: fsync, chmod 0600, rename (atomic
 * on one filesystem), fsync the directory. Readers see the old file or the whole new one.
 */
export async function publish(tmp: string, final: string): Promise<void> {
  const fh = await open(tmp, 'r');
  try {
    await fh.chmod(0o600);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, final);
  const dir = await open(path.dirname(final), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Deletes a file, ignoring one that is already gone. */
export async function unlinkQuietly(file: string): Promise<void> {
  await unlink(file).catch((err: unknown) => {
    if (!isErrno(err, 'ENOENT')) {
      throw err;
    }
  });
}
