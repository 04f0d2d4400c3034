/**
 * The files a delta upload sends, all derived from a bundle's index (see scripts/target/lib/
 * store.sh for how the target uses them): the store keys the release needs, the expected sums
 * and tree of the assembled release, the store links of a full upload and the delta payload.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import tar, { type Header, type Pack } from 'tar-stream';
import type { BundleIndex, IndexEntry } from '../../shared/bundle/bundle-index.js';
import { FIXED_MTIME } from '../../shared/bundle/write-tar.js';

type FileIndexEntry = Extract<IndexEntry, { type: 'file' }>;

/** Mode bits a release keeps (`chmod -R go=`): the owner's. */
const ownerMode = (mode: number): number => mode & 0o700;

/** The store name of a file: its content and its mode (hard links share the mode). */
export function storeKey(e: FileIndexEntry): string {
  return `${e.sha256}-${ownerMode(e.mode).toString(8)}`;
}

/** The index's files, each store key with the first path that has it. */
export function firstPaths(index: BundleIndex): Map<string, FileIndexEntry> {
  const out = new Map<string, FileIndexEntry>();
  for (const e of index.entries) {
    if (e.type === 'file' && !out.has(storeKey(e))) {
      out.set(storeKey(e), e);
    }
  }
  return out;
}

/** `bundles/<sha>.keys`: one store key a line, each once. */
export function keysText(index: BundleIndex): string {
  return [...firstPaths(index).keys()].map((k) => `${k}\n`).join('');
}

/** `bundles/<sha>.sums`: `sha256sum -c` input for every file (names escaped as coreutils does). */
export function sumsText(index: BundleIndex): string {
  let out = '';
  for (const e of index.entries) {
    if (e.type === 'file') {
      const escaped = e.path.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
      out += `${escaped === e.path ? '' : '\\'}${e.sha256}  ${escaped}\n`;
    }
  }
  return out;
}

/**
 * `bundles/<sha>.tree`: what `find . -mindepth 1 -printf '%y %m %P\t%l\0' | LC_ALL=C sort -z`
 * prints in the assembled release (types, owner-only modes, names, link targets).
 */
export function treeBuffer(index: BundleIndex): Buffer {
  const records = index.entries.map((e) => {
    const text =
      e.type === 'directory'
        ? `d 700 ${e.path}\t`
        : e.type === 'file'
          ? `f ${ownerMode(e.mode).toString(8)} ${e.path}\t`
          : `l 777 ${e.path}\t${e.linkname}`;
    return Buffer.from(`${text}\0`);
  });
  return Buffer.concat(records.sort(Buffer.compare));
}

const BASE = { mtime: FIXED_MTIME, uid: 0, gid: 0, uname: '', gname: '' };
type EntryHeader = Partial<Header> & Pick<Header, 'name'>;

/** Adds a header-only entry (directory, link) or a small in-memory file. */
function add(pack: Pack, header: EntryHeader, content?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ ...BASE, ...header }, content ?? Buffer.alloc(0), (err) =>
      err ? reject(err) : resolve(),
    );
  });
}

/** Streams `fill(pack)` as a gzipped tar into `out` (mode 0600). */
async function writeTarGz(out: string, fill: (pack: Pack) => Promise<void>): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createGzip(), createWriteStream(out, { flags: 'wx', mode: 0o600 }));
  done.catch(() => undefined); // awaited below
  try {
    await fill(pack);
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    await done.catch(() => undefined);
    throw err;
  }
  await done;
}

/** The store links of a full upload: `store/KEY` → `releases/<sha>.tmp/PATH`, one per key. */
export async function writeLinksTar(index: BundleIndex, out: string): Promise<void> {
  const tmp = `releases/${index.bundle}.tmp`;
  await writeTarGz(out, async (pack) => {
    await add(pack, { name: 'store/', type: 'directory', mode: 0o700 });
    for (const [key, e] of firstPaths(index)) {
      await add(pack, { name: `store/${key}`, type: 'link', linkname: `${tmp}/${e.path}` });
    }
  });
}

/** What a delta payload carries. */
export interface DeltaStats {
  files_sent: number;
  /** Uncompressed bytes of the file contents sent. */
  content_bytes: number;
}

/**
 * The delta payload: the expected sums and tree, the release below `releases/<sha>.tmp/` in
 * bundle order (a file whose key is in `missing` sent once, every other file a hard link to
 * its store blob or to the copy sent earlier), then `store/KEY` links for the contents sent.
 * Reads the contents from the bundle at `bundlePath` as it streams (none held in memory).
 */
export async function writeDeltaTar(
  index: BundleIndex,
  bundlePath: string,
  missing: ReadonlySet<string>,
  out: string,
): Promise<DeltaStats> {
  const tmp = `releases/${index.bundle}.tmp`;
  const byPath = new Map(index.entries.map((e) => [e.path, e]));
  const sent = new Map<string, string>();
  const stats: DeltaStats = { files_sent: 0, content_bytes: 0 };
  const meta = `bundles/${index.bundle}`;
  await writeTarGz(out, async (pack) => {
    const sums = Buffer.from(sumsText(index));
    await add(pack, { name: `${meta}.sums`, type: 'file', mode: 0o600 }, sums);
    await add(pack, { name: `${meta}.tree`, type: 'file', mode: 0o600 }, treeBuffer(index));
    await add(pack, { name: 'store/', type: 'directory', mode: 0o700 });
    await add(pack, { name: `${tmp}/`, type: 'directory', mode: 0o700 });
    const extract = tar.extract();
    extract.on('entry', (header, stream, next) => {
      const e = byPath.get(header.name.replace(/\/+$/, ''));
      const name = `${tmp}/${e?.path ?? ''}`;
      const fail = (err: Error): void => next(err);
      if (!e) {
        stream.resume();
        next(new Error(`bundle entry ${header.name} is not in its index`));
      } else if (e.type === 'file' && missing.has(storeKey(e)) && !sent.has(storeKey(e))) {
        sent.set(storeKey(e), name);
        stats.files_sent += 1;
        stats.content_bytes += e.size;
        const sink = pack.entry(
          { ...BASE, name, type: 'file', mode: ownerMode(e.mode), size: e.size },
          (err) => (err ? fail(err) : next()),
        );
        stream.pipe(sink);
      } else {
        stream.resume();
        stream.on('end', () => {
          addIndexed(pack, e, name, sent).then(() => next(), fail);
        });
      }
    });
    await pipeline(createReadStream(bundlePath), createGunzip(), extract);
    for (const [key, name] of sent) {
      await add(pack, { name: `store/${key}`, type: 'link', linkname: name });
    }
  });
  return stats;
}

/** A directory, a symlink, or a file whose content the target has (a link to it). */
function addIndexed(
  pack: Pack,
  e: IndexEntry,
  name: string,
  sent: ReadonlyMap<string, string>,
): Promise<void> {
  switch (e.type) {
    case 'directory':
      return add(pack, { name: `${name}/`, type: 'directory', mode: 0o700 });
    case 'symlink':
      return add(pack, { name, type: 'symlink', linkname: e.linkname, mode: 0o777 });
    case 'file':
      return add(pack, {
        name,
        type: 'link',
        linkname: sent.get(storeKey(e)) ?? `store/${storeKey(e)}`,
      });
  }
}
