/** Streams bundle entries into a deterministic .tar.gz file, hashing the output as it goes. */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar, { type Header, type Pack } from 'tar-stream';
import type { BundleEntry, FileEntry } from './entries.js';
import { sha256 } from './input-key.js';
import { ParallelGzip } from './parallel-gzip.js';
import {
  changedError,
  openSource,
  readChunks,
  readSmallSource,
  slicer,
  SMALL_FILE,
} from './source-file.js';

/** Every entry's mtime (2000-01-01T00:00:00Z): file times never reach the bundle. */
export const FIXED_MTIME = new Date(Date.UTC(2000, 0, 1));
/**
 * gzip level 6, as `gzip` and `tar -z` use, in members of GZIP_BLOCK input bytes compressed
 * in parallel (./parallel-gzip.ts); both are part of the format (see BUNDLE_FORMAT_VERSION).
 */
export const GZIP_LEVEL = 6;

const READ_CHUNK = 1024 * 1024;
const BASE = { mtime: FIXED_MTIME, uid: 0, gid: 0, uname: '', gname: '' };

type EntryHeader = Partial<Header> & Pick<Header, 'name'>;

/**
 * Writes `entries` (already sorted) as a gzipped tar to `outPath` (created, mode 0600) and
 * returns the sha256 and size of the written bytes. Files are read through openSource (no-follow,
 * checked against the walk). `fileHashes` are the content hashes the input key was computed
 * from; a file whose content differs now throws `scenario_changed`.
 */
export async function writeTarGz(
  entries: readonly BundleEntry[],
  fileHashes: ReadonlyMap<string, string>,
  outPath: string,
): Promise<{ sha256: string; size: number }> {
  const pack = tar.pack();
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const out = createWriteStream(outPath, { flags: 'wx', mode: 0o600 });
  await once(out, 'open'); // an existing output fails here, before any source is opened
  const done = pipeline(pack, new ParallelGzip(GZIP_LEVEL), tap, out);
  done.catch(() => undefined); // awaited below; this only stops an early failure going unhandled
  try {
    const pause = slicer();
    for (const entry of entries) {
      await addEntry(pack, entry, fileHashes);
      await pause();
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await done.catch(() => undefined);
    throw err;
  }
  await done;
  return { sha256: hash.digest('hex'), size };
}

function addEntry(
  pack: Pack,
  entry: BundleEntry,
  fileHashes: ReadonlyMap<string, string>,
): Promise<void> {
  switch (entry.kind) {
    case 'directory':
      // tar-stream does not add the trailing slash itself; GNU tar and others expect it.
      return addWhole(pack, { ...BASE, name: `${entry.path}/`, type: 'directory', mode: 0o755 });
    case 'symlink':
      return addWhole(pack, {
        ...BASE,
        name: entry.path,
        type: 'symlink',
        linkname: entry.linkname,
        mode: 0o777,
      });
    case 'buffer':
      return addWhole(
        pack,
        { ...BASE, name: entry.path, type: 'file', mode: entry.mode },
        entry.content,
      );
    case 'file':
      return addFile(pack, entry, fileHashes.get(entry.path));
  }
}

function addWhole(pack: Pack, header: EntryHeader, content?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const sink = pack.entry(header, content ?? Buffer.alloc(0), (err) =>
      err ? reject(err) : resolve(),
    );
    sink.on('error', () => undefined); // reported through the callback
  });
}

async function addFile(pack: Pack, entry: FileEntry, expected?: string): Promise<void> {
  if (entry.size <= SMALL_FILE) {
    const content = readSmallSource(entry);
    checkUnchanged(entry, sha256(content), expected);
    return addWhole(pack, fileHeader(entry), content);
  }
  const fh = await openSource(entry);
  try {
    await addLargeFile(pack, entry, fh, expected);
  } finally {
    await fh.close();
  }
}

async function addLargeFile(
  pack: Pack,
  entry: FileEntry,
  fh: FileHandle,
  expected?: string,
): Promise<void> {
  let settle!: { resolve: () => void; reject: (err: Error) => void };
  const finished = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
  finished.catch(() => undefined); // the loop below may throw before it is awaited
  const sink = pack.entry({ ...fileHeader(entry), size: entry.size }, (err) =>
    err ? settle.reject(err) : settle.resolve(),
  );
  sink.on('error', () => undefined); // reported through the callback
  const hash = createHash('sha256');
  for await (const chunk of readChunks(fh, entry, READ_CHUNK)) {
    hash.update(chunk);
    if (!sink.write(chunk)) {
      await Promise.race([once(sink, 'drain'), finished]);
    }
  }
  checkUnchanged(entry, hash.digest('hex'), expected);
  sink.end(null); // streamx types require an argument; null writes nothing
  await finished;
}

function fileHeader(entry: FileEntry): EntryHeader {
  return { ...BASE, name: entry.path, type: 'file', mode: entry.mode };
}

/** readChunks already read exactly `entry.size` bytes; the content must hash as the key did. */
function checkUnchanged(entry: FileEntry, actual: string, expected?: string): void {
  if (actual !== expected) {
    throw changedError(entry.path);
  }
}
