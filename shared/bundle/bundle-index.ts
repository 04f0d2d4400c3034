/**
 * A bundle's index: every entry of its tar.gz (path, type, mode, size, sha256, symlink target).
 * Builds write it beside the bundle (./index-file.ts); for a bundle built before they did, it
 * is read by streaming the archive once. Delta uploads compare it with what a target holds.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar, { type Header } from 'tar-stream';
import { bundleFile } from './cache.js';
import { isErrno } from './errors.js';
import { IndexFileWriter, readIndexFile } from './index-file.js';

/** One entry of a bundle, in archive order. `path` has no trailing slash. */
export type IndexEntry =
  | { type: 'directory'; path: string; mode: number }
  | { type: 'file'; path: string; mode: number; size: number; sha256: string }
  | { type: 'symlink'; path: string; linkname: string };

/** The index of the bundle `bundle` (its sha256). */
export interface BundleIndex {
  bundle: string;
  entries: IndexEntry[];
}

/** The version of `<sha>.index.json` files (one JSON document) that workers cached before. */
const LEGACY_INDEX_VERSION = 1;

/** True for a relative path with no empty, `.` or `..` component (what a release may hold). */
export function isSafeRelativePath(p: string): boolean {
  return (
    p !== '' &&
    !p.includes('\0') &&
    p.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
  );
}

/**
 * Reads the index of `<cacheDir>/<sha256>.tar.gz`: the one its build wrote (or a worker cached
 * before as `<sha>.index.json`), else computed from the archive and cached on first use.
 */
export async function loadBundleIndex(cacheDir: string, sha256: string): Promise<BundleIndex> {
  const written = await readIndexFile(cacheDir, sha256);
  if (written) {
    return written;
  }
  const legacy = await readLegacyIndex(cacheDir, sha256);
  if (legacy) {
    return legacy;
  }
  const index = await computeBundleIndex(bundleFile(cacheDir, sha256), sha256);
  const out = new IndexFileWriter(cacheDir);
  try {
    index.entries.forEach(out.add);
    await out.finish(sha256);
  } catch (err) {
    await out.discard();
    throw err;
  }
  return index;
}

/** The one-document index an earlier worker cached, or null (none, damaged, another bundle). */
async function readLegacyIndex(cacheDir: string, sha256: string): Promise<BundleIndex | null> {
  try {
    const text = await readFile(path.join(cacheDir, `${sha256}.index.json`), 'utf8');
    const parsed = JSON.parse(text) as BundleIndex & { v: number };
    if (parsed.v === LEGACY_INDEX_VERSION && parsed.bundle === sha256) {
      return { bundle: parsed.bundle, entries: parsed.entries };
    }
  } catch (err) {
    if (!isErrno(err, 'ENOENT') && !(err instanceof SyntaxError)) {
      throw err;
    }
  }
  return null;
}

/**
 * Streams the tar.gz at `file` once (no file held in memory) and checks its sha256 is `sha256`:
 * the index describes exactly the bundle of that identity, or this throws.
 */
export async function computeBundleIndex(file: string, sha256: string): Promise<BundleIndex> {
  const whole = createHash('sha256');
  const entries: IndexEntry[] = [];
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const hash = createHash('sha256');
    let size = 0;
    stream.on('data', (chunk: unknown) => {
      const bytes = chunk as Buffer;
      hash.update(bytes);
      size += bytes.length;
    });
    stream.on('end', () => {
      try {
        entries.push(toEntry(header, size, hash.digest('hex')));
        next();
      } catch (err) {
        next(err as Error);
      }
    });
  });
  const source = createReadStream(file);
  source.on('data', (chunk) => whole.update(chunk));
  await pipeline(source, createGunzip(), extract);
  const actual = whole.digest('hex');
  if (actual !== sha256) {
    throw new Error(`bundle file ${file} has sha256 ${actual}, not ${sha256}`);
  }
  return { bundle: sha256, entries };
}

function toEntry(header: Header, size: number, sha256: string): IndexEntry {
  const p = header.name.replace(/\/+$/, '');
  if (!isSafeRelativePath(p)) {
    throw new Error(`bundle entry with an unsafe path: ${JSON.stringify(header.name)}`);
  }
  const mode = (header.mode ?? 0) & 0o7777;
  switch (header.type) {
    case 'directory':
      return { type: 'directory', path: p, mode };
    case 'file':
      return { type: 'file', path: p, mode, size, sha256 };
    case 'symlink':
      return { type: 'symlink', path: p, linkname: header.linkname ?? '' };
    default:
      throw new Error(`bundle entry ${p} has type ${header.type}, which bundles never hold`);
  }
}
