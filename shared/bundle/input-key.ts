/** The cache key of a bundle: a sha256 over everything that determines its bytes. */
import { createHash, hash } from 'node:crypto';
import type { BundleEntry, FileEntry } from './entries.js';
import {
  openSource,
  readChunks,
  readSmallSource,
  slicer,
  SMALL_FILE,
  type SourceFile,
} from './source-file.js';

/**
 * Bumped whenever the tar/gzip encoding changes (header fields, mtime, gzip level, ordering),
 * so old cache entries are never reused for a different byte layout.
 */
export const BUNDLE_FORMAT_VERSION =
  'stagecoach-bundle/2;tar=ustar+pax;mtime=946684800;gzip=6;members=2MiB';

/** Files up to this size are hashed from one read; larger ones in chunks of this size. */
const HASH_CHUNK = 1024 * 1024;
const HASH_CONCURRENCY = 4;

/** The input key and the content hash of each `file` entry (keyed by archive path). */
export interface InputKey {
  key: string;
  fileHashes: Map<string, string>;
}

/** Hashes the format version and every entry (path, kind, mode, content hash or link target). */
export async function computeInputKey(entries: readonly BundleEntry[]): Promise<InputKey> {
  const fileHashes = await hashFiles(entries);
  const key = createHash('sha256');
  key.update(`${BUNDLE_FORMAT_VERSION}\n`);
  for (const entry of entries) {
    key.update(`${JSON.stringify(describe(entry, fileHashes))}\n`);
  }
  return { key: key.digest('hex'), fileHashes };
}

/**
 * The content hash of every file entry: large files in chunks on the thread pool, small ones
 * (most of a tree) read whole with blocking calls meanwhile, yielding between time slices.
 */
async function hashFiles(entries: readonly BundleEntry[]): Promise<Map<string, string>> {
  const fileHashes = new Map<string, string>();
  const large = entries.filter((e): e is FileEntry => e.kind === 'file' && e.size > SMALL_FILE);
  const largeDone = mapLimit(large, HASH_CONCURRENCY, hashFile);
  largeDone.catch(() => undefined); // awaited below, unless a small file fails first
  const pause = slicer();
  for (const e of entries) {
    if (e.kind === 'file' && e.size <= SMALL_FILE) {
      fileHashes.set(e.path, sha256(readSmallSource(e)));
      await pause();
    }
  }
  const hashes = await largeDone;
  large.forEach((e, i) => fileHashes.set(e.path, hashes[i]));
  return fileHashes;
}

function describe(entry: BundleEntry, fileHashes: Map<string, string>): unknown[] {
  switch (entry.kind) {
    case 'directory':
      return ['d', entry.path];
    case 'symlink':
      return ['l', entry.path, entry.linkname];
    case 'buffer':
      return ['f', entry.path, entry.mode, sha256(entry.content)];
    case 'file':
      return ['f', entry.path, entry.mode, fileHashes.get(entry.path)];
  }
}

/** Hex sha256 of a buffer. */
export function sha256(data: Buffer): string {
  // one-shot: no Hash object (and its native context) per file, 100k of which wait for a GC
  return hash('sha256', data, 'hex');
}

/**
 * Hex sha256 of a walked file's content, read through openSource (no-follow, checked against
 * the walk) in chunks so memory stays flat.
 */
export async function hashFile(file: SourceFile): Promise<string> {
  const hash = createHash('sha256');
  const fh = await openSource(file);
  try {
    for await (const chunk of readChunks(fh, file, HASH_CHUNK)) {
      hash.update(chunk);
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/** Maps `items` through `fn` with at most `limit` calls in flight; keeps input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
