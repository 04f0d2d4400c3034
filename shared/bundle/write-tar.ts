/** Streams bundle entries into a deterministic .tar.gz file, hashing the output as it goes. */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar, { type Header, type Pack } from 'tar-stream';
import type { BundleEntry, FileEntry } from './entries.js';
import { sha256 } from './input-key.js';
import { changedError, openSource, readChunks } from './source-file.js';

/** Every entry's mtime (2000-01-01T00:00:00Z): file times never reach the bundle. */
export const FIXED_MTIME = new Date(Date.UTC(2000, 0, 1));
/** gzip level 6, as `gzip` and `tar -z` use; part of the format (see BUNDLE_FORMAT_VERSION). */
export const GZIP_LEVEL = 6;

const SMALL_FILE = 256 * 1024;
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
  const done = pipeline(pack, createGzip({ level: GZIP_LEVEL, chunkSize: 64 * 1024 }), tap, out);
  done.catch(() => undefined); // awaited below; this only stops an early failure going unhandled
  try {
    for (const entry of entries) {
      await addEntry(pack, entry, fileHashes);
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
  const fh = await openSource(entry);
  try {
    await (entry.size <= SMALL_FILE
      ? addSmallFile(pack, entry, fh, expected)
      : addLargeFile(pack, entry, fh, expected));
  } finally {
    await fh.close();
  }
}

async function addSmallFile(
  pack: Pack,
  entry: FileEntry,
  fh: FileHandle,
  expected?: string,
): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of readChunks(fh, entry, SMALL_FILE)) {
    chunks.push(chunk);
  }
  const content = chunks[0] ?? Buffer.alloc(0); // one chunk: SMALL_FILE bounds the size
  checkUnchanged(entry, sha256(content), expected);
  return addWhole(pack, fileHeader(entry), content);
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
