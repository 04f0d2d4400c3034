/** The cache key of a bundle: a sha256 over everything that determines its bytes. */
import { createHash, hash } from 'node:crypto';
import type { BundleEntry, FileEntry } from './entries.js';
import { FileHashes } from './file-hashes.js';
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

/** The input key and the content hash of each `file` entry (by ordinal, see FileHashes). */
export interface InputKey {
  key: string;
  fileHashes: FileHashes;
}

/** Hashes the format version and every entry (path, kind, mode, content hash or link target). */
export async function computeInputKey(entries: readonly BundleEntry[]): Promise<InputKey> {
  const fileHashes = await hashFiles(entries);
  const key = createHash('sha256');
  key.update(`${BUNDLE_FORMAT_VERSION}\n`);
  let file = 0;
  for (const entry of entries) {
    const hex = entry.kind === 'file' ? fileHashes.get(file++) : '';
    key.update(`${JSON.stringify(describe(entry, hex))}\n`);
  }
  return { key: key.digest('hex'), fileHashes };
}

/**
 * The content hash of every file entry: large files in chunks on the thread pool, small ones
 * (most of a tree) read whole with blocking calls meanwhile, yielding between time slices.
 */
async function hashFiles(entries: readonly BundleEntry[]): Promise<FileHashes> {
  const fileHashes = FileHashes.for(entries);
  const large: { entry: FileEntry; ordinal: number }[] = [];
  let ordinal = 0;
  for (const e of entries) {
    if (e.kind === 'file') {
      if (e.size > SMALL_FILE) {
        large.push({ entry: e, ordinal });
      }
      ordinal++;
    }
  }
  const largeDone = mapLimit(large, HASH_CONCURRENCY, async ({ entry, ordinal: i }) =>
    fileHashes.set(i, await hashFile(entry)),
  );
  largeDone.catch(() => undefined); // awaited below, unless a small file fails first
  const pause = slicer();
  const scratch = Buffer.allocUnsafe(SMALL_FILE);
  ordinal = 0;
  for (const e of entries) {
    if (e.kind === 'file' && e.size <= SMALL_FILE) {
      fileHashes.set(ordinal, sha256(readSmallSource(e, scratch)));
      await pause();
    }
    ordinal += e.kind === 'file' ? 1 : 0;
  }
  await largeDone;
  return fileHashes;
}

/** What the input key records of an entry (`hex`: a file entry's content hash). */
function describe(entry: BundleEntry, hex: string): unknown[] {
  switch (entry.kind) {
    case 'directory':
      return ['d', entry.path];
    case 'symlink':
      return ['l', entry.path, entry.linkname];
    case 'buffer':
      return ['f', entry.path, entry.mode, sha256(entry.content)];
    case 'file':
      return ['f', entry.path, entry.mode, hex];
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
