/**
 * A bundle's index as a cache file, `<cacheDir>/<sha256>.index.jsonl`: one JSON entry a line
 * in archive order, then a trailer `{"v":2,"bundle":SHA,"entries":N}`. Written line by line as
 * the bundle is built and read line by line, so neither side holds the whole text (15 MB for
 * 100k files) besides the entries; a file without its trailer is incomplete and not used.
 */
import { closeSync, createReadStream, openSync, writeSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { BundleIndex, IndexEntry } from './bundle-index.js';
import { tempPath, unlinkQuietly } from './cache.js';
import { isErrno } from './errors.js';

/** Bumped when the index's meaning changes: an older cached index is then recomputed. */
const INDEX_VERSION = 2;
/** JSON text gathered before one blocking write (a few hundred entries). */
const FLUSH_CHARS = 64 * 1024;

/** Where the index of `<cacheDir>/<sha256>.tar.gz` is cached. */
export function indexFile(cacheDir: string, sha256: string): string {
  return path.join(cacheDir, `${sha256}.index.jsonl`);
}

/**
 * Writes an index entry by entry to a temp file in the cache (mode 0600; blocking writes of
 * 64 KiB: no promise per entry, so it can follow the tar writer), then renames it into place
 * once the bundle's sha256 is known.
 */
export class IndexFileWriter {
  private readonly tmp: string;
  private readonly fd: number;
  private text = '';
  private count = 0;
  private closed = false;

  constructor(private readonly cacheDir: string) {
    this.tmp = tempPath(cacheDir, '.index.jsonl');
    this.fd = openSync(this.tmp, 'wx', 0o600);
  }

  /** Appends one entry (archive order); usable as writeTarGz's IndexSink. */
  readonly add = (entry: IndexEntry): void => {
    this.text += `${JSON.stringify(entry)}\n`;
    this.count++;
    if (this.text.length >= FLUSH_CHARS) {
      this.flush();
    }
  };

  /** Writes the trailer for the bundle `sha256` and publishes the index beside it. */
  async finish(sha256: string): Promise<void> {
    this.text += `${JSON.stringify({ v: INDEX_VERSION, bundle: sha256, entries: this.count })}\n`;
    this.flush();
    this.close();
    // no fsync (the bundle has its own): a file a crash damaged lacks its trailer or a whole
    // line, is not used, and is computed again from the bundle
    await rename(this.tmp, indexFile(this.cacheDir, sha256));
  }

  /** Drops an unfinished index (the bundle failed). */
  async discard(): Promise<void> {
    this.close();
    await unlinkQuietly(this.tmp);
  }

  private flush(): void {
    const bytes = Buffer.from(this.text);
    for (let off = 0; off < bytes.length;) {
      off += writeSync(this.fd, bytes, off);
    }
    this.text = '';
  }

  private close(): void {
    if (!this.closed) {
      this.closed = true;
      closeSync(this.fd);
    }
  }
}

/**
 * The cached index of the bundle `sha256`, or null when there is none or it is not whole (no
 * trailer, another version or bundle, a count that differs, a line that is not JSON).
 */
export async function readIndexFile(cacheDir: string, sha256: string): Promise<BundleIndex | null> {
  const entries: IndexEntry[] = [];
  const input = createReadStream(indexFile(cacheDir, sha256), { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      const item = JSON.parse(line) as IndexEntry | { v: number; bundle: string; entries: number };
      if (!('v' in item)) {
        entries.push(item);
      } else if (
        item.v === INDEX_VERSION &&
        item.bundle === sha256 &&
        item.entries === entries.length
      ) {
        return { bundle: sha256, entries };
      } else {
        return null;
      }
    }
    return null;
  } catch (err) {
    if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) {
      return null;
    }
    throw err;
  } finally {
    lines.close();
    input.destroy();
  }
}
