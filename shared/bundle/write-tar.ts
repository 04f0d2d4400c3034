/**
 * Writes bundle entries as a deterministic .tar.gz file, hashing the output as it goes. Headers
 * and contents are copied straight into the gzip blocks (./tar-header.ts, ./parallel-gzip.ts):
 * no stream, callback or promise per entry, so a 100k-file tree leaves nothing behind per file.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { IndexEntry } from './bundle-index.js';
import type { BundleEntry, FileEntry } from './entries.js';
import type { FileHashes } from './file-hashes.js';
import { sha256 } from './input-key.js';
import { ParallelGzipFile } from './parallel-gzip.js';
import {
  changedError,
  openSource,
  readChunks,
  readSmallSource,
  slicer,
  SMALL_FILE,
} from './source-file.js';
import {
  BLOCK,
  FIXED_MTIME_S,
  headerBytes,
  padded,
  writeHeader,
  type TarHeader,
} from './tar-header.js';

/** Every entry's mtime (2000-01-01T00:00:00Z): file times never reach the bundle. */
export const FIXED_MTIME = new Date(FIXED_MTIME_S * 1000);
/**
 * gzip level 6, as `gzip` and `tar -z` use, in members of GZIP_BLOCK input bytes compressed
 * in parallel (./parallel-gzip.ts); both are part of the format (see BUNDLE_FORMAT_VERSION).
 */
export const GZIP_LEVEL = 6;

const READ_CHUNK = 1024 * 1024;

/** Receives each entry as the bundle's index records it, in archive order. */
export type IndexSink = (entry: IndexEntry) => void;

/**
 * Writes `entries` (already sorted) as a gzipped tar to `outPath` (created, mode 0600) and
 * returns the sha256 and size of the written bytes. Files are read through openSource (no-follow,
 * checked against the walk). `fileHashes` are the content hashes the input key was computed
 * from; a file whose content differs now throws `scenario_changed`. `onEntry` is told each
 * entry as the bundle's index (./bundle-index.ts) describes it.
 */
export async function writeTarGz(
  entries: readonly BundleEntry[],
  fileHashes: FileHashes,
  outPath: string,
  onEntry: IndexSink = () => undefined,
): Promise<{ sha256: string; size: number }> {
  const fh = await open(outPath, 'wx', 0o600); // an existing output fails before any read
  const gz = new ParallelGzipFile(fh, GZIP_LEVEL);
  try {
    const tar = new TarWriter(gz, fileHashes, onEntry);
    const pause = slicer();
    for (const entry of entries) {
      if (entry.kind === 'file' && entry.size > SMALL_FILE) {
        await tar.addLargeFile(entry);
      } else {
        tar.add(entry);
      }
      if (gz.full) {
        await gz.drain();
      }
      await pause();
    }
    gz.zeros(2 * BLOCK); // end of archive
    return await gz.end();
  } catch (err) {
    await gz.abandon();
    throw err;
  } finally {
    await fh.close();
  }
}

/** Appends entries to the gzip blocks, reading and encoding into buffers it reuses. */
class TarWriter {
  private readonly small = Buffer.allocUnsafe(SMALL_FILE);
  private chunk: Buffer | null = null;
  private head = Buffer.alloc(4 * BLOCK);
  /** Ordinal of the next file entry (its index in FileHashes). */
  private files = 0;

  constructor(
    private readonly gz: ParallelGzipFile,
    private readonly fileHashes: FileHashes,
    private readonly onEntry: IndexSink,
  ) {}

  /** Adds a directory, symlink, in-memory file or small file (read with blocking calls). */
  add(entry: BundleEntry): void {
    switch (entry.kind) {
      case 'directory':
        this.header({ name: `${entry.path}/`, type: 'directory', mode: 0o755 });
        this.onEntry({ type: 'directory', path: entry.path, mode: 0o755 });
        return;
      case 'symlink':
        this.header({ name: entry.path, type: 'symlink', mode: 0o777, linkname: entry.linkname });
        this.onEntry({ type: 'symlink', path: entry.path, linkname: entry.linkname });
        return;
      case 'buffer':
        this.file(entry.path, entry.mode, entry.content, sha256(entry.content));
        return;
      case 'file': {
        const content = readSmallSource(entry, this.small);
        const actual = sha256(content);
        checkUnchanged(entry, actual, this.fileHashes.get(this.files++));
        this.file(entry.path, entry.mode, content, actual);
      }
    }
  }

  /** Streams a file larger than SMALL_FILE in chunks, hashing it on the way. */
  async addLargeFile(entry: FileEntry): Promise<void> {
    const fh = await openSource(entry);
    try {
      await this.copyLarge(entry, fh);
    } finally {
      await fh.close();
    }
  }

  private async copyLarge(entry: FileEntry, fh: FileHandle): Promise<void> {
    const expected = this.fileHashes.get(this.files++);
    this.header({ name: entry.path, type: 'file', mode: entry.mode, size: entry.size });
    const hash = createHash('sha256');
    this.chunk ??= Buffer.allocUnsafe(READ_CHUNK);
    for await (const chunk of readChunks(fh, entry, READ_CHUNK, this.chunk)) {
      hash.update(chunk);
      this.gz.write(chunk);
      if (this.gz.full) {
        await this.gz.drain();
      }
    }
    const actual = hash.digest('hex');
    checkUnchanged(entry, actual, expected);
    this.gz.zeros(padded(entry.size) - entry.size);
    this.onEntry({
      type: 'file',
      path: entry.path,
      mode: entry.mode,
      size: entry.size,
      sha256: actual,
    });
  }

  private file(path: string, mode: number, content: Buffer, hash: string): void {
    this.header({ name: path, type: 'file', mode, size: content.length });
    this.gz.write(content);
    this.gz.zeros(padded(content.length) - content.length);
    this.onEntry({ type: 'file', path, mode, size: content.length, sha256: hash });
  }

  private header(h: TarHeader): void {
    const n = headerBytes(h);
    if (n > this.head.length) {
      this.head = Buffer.alloc(n); // a PAX header for a path of several KiB
    }
    this.head.fill(0, 0, n);
    writeHeader(this.head, 0, h);
    this.gz.write(this.head.subarray(0, n));
  }
}

/** The content read must hash as the input key's did (the walk already fixed its size). */
function checkUnchanged(entry: FileEntry, actual: string, expected?: string): void {
  if (actual !== expected) {
    throw changedError(entry.path);
  }
}
