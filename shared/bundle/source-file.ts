/**
 * Reads the scenario tree without following links: directories and files are opened with
 * O_NOFOLLOW, each descriptor is checked against what the walk saw, and the check and the read
 * use the same descriptor, so swapping a file or a directory for a symlink (or another file)
 * mid-build never brings outside content into a bundle.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  openSync,
  readlinkSync,
  readSync,
} from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { BundleError, isErrno } from './errors.js';

/** A walked directory: the archive path `prefix/REST` is read from `dir/REST`. */
export interface SourceRoot {
  dir: string;
  prefix: string;
}

/**
 * What the open check needs of a file entry: its identity as the walk saw it (`links`: how
 * many of its links the tree holds) and where it is read from.
 */
export interface SourceFile {
  path: string;
  size: number;
  root: SourceRoot;
  dev: bigint;
  ino: bigint;
  links: number;
}

/** The absolute path a walked file is read from (built when needed, not kept per file). */
export function sourcePath(file: SourceFile): string {
  return file.root.dir + file.path.slice(file.root.prefix.length);
}

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY, O_DIRECTORY } = constants;
// O_NONBLOCK: a FIFO swapped in must not block the open; it is then refused as not a file.
const FILE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
const DIR_FLAGS = O_RDONLY | O_NOFOLLOW | O_DIRECTORY;
/** Errors of an open or read that mean the path is no longer what the walk saw. */
const RACE_ERRNOS = ['ENOENT', 'ENOTDIR', 'ELOOP', 'EINVAL', 'ENXIO'];

/**
 * Linux's `/proc/self/fd`: O_NOFOLLOW guards only a path's last component, so the path the
 * kernel reports for a descriptor proves no directory on the way was a symlink, and
 * `/proc/self/fd/N/name` looks `name` up in exactly the directory that was opened. Without it
 * (not Linux) only the last component is guarded.
 */
export const PROC_FD = existsSync('/proc/self/fd') ? '/proc/self/fd' : null;

/** `scenario_changed` for `shown` (an archive path or a path inside the scenario). */
export function changedError(shown: string, cause?: unknown): BundleError {
  return new BundleError(
    'scenario_changed',
    `${shown} changed while the bundle was being built; build again`,
    { cause },
  );
}

/** True when `err` is an errno that means a path changed under us (gone, now a link, …). */
export function isRaceErrno(err: unknown): boolean {
  return RACE_ERRNOS.some((code) => isErrno(err, code));
}

/** Throws unless the open descriptor `fd` is the file at `abs` (no symlink on the way). */
function checkOpenedAt(fd: number, abs: string, shown: string): void {
  if (PROC_FD !== null && readlinkSync(`${PROC_FD}/${fd}`) !== abs) {
    throw changedError(shown);
  }
}

/**
 * Opens the directory `abs` without following links and runs `fn` with a path through which
 * its entries are reached (`/proc/self/fd/N`, pinned to that directory, where available).
 * The open and close block (microseconds on a cached inode; see readSmallSource).
 */
export async function withDirectory<T>(
  abs: string,
  shown: string,
  fn: (base: string) => Promise<T>,
): Promise<T> {
  let fd: number;
  try {
    fd = openSync(abs, DIR_FLAGS);
  } catch (err) {
    throw isRaceErrno(err) ? changedError(shown, err) : err;
  }
  try {
    checkOpenedAt(fd, abs, shown);
    return await fn(PROC_FD === null ? abs : `${PROC_FD}/${fd}`);
  } finally {
    closeSync(fd);
  }
}

/** Throws unless the opened `fd` (stat `st`) is the walked file, reached without a symlink. */
function checkOpenedFile(st: BigIntStats, fd: number, file: SourceFile, source: string): void {
  if (!st.isFile() || st.dev !== file.dev || st.ino !== file.ino || st.size !== BigInt(file.size)) {
    throw changedError(file.path);
  }
  if (st.nlink > BigInt(file.links)) {
    throw hardLinkError(file.path, Number(st.nlink), file.links);
  }
  checkOpenedAt(fd, source, file.path);
}

/**
 * Opens a walked file for reading: no-follow, then the descriptor must be a regular file with
 * the walk's device, inode and size, reached without a symlink, and with no more links than
 * the tree holds. The caller reads from the returned handle and closes it.
 */
export async function openSource(file: SourceFile): Promise<FileHandle> {
  const source = sourcePath(file);
  let fh: FileHandle;
  try {
    fh = await open(source, FILE_FLAGS);
  } catch (err) {
    throw isRaceErrno(err) ? changedError(file.path, err) : err;
  }
  try {
    checkOpenedFile(await fh.stat({ bigint: true }), fh.fd, file, source);
    return fh;
  } catch (err) {
    await fh.close();
    throw err;
  }
}

/**
 * The whole content of a small walked file, read with blocking calls under the same checks as
 * openSource, into `into` (at least file.size bytes; reused by callers, so no buffer per file)
 * and returned as a view of it. For a page-cached file of a few KiB, four syscalls on this
 * thread take a few microseconds where four thread-pool round trips take 50-100: across 100k
 * files, seconds. Callers keep files small (SMALL_FILE) and yield to the event loop between
 * batches.
 */
export function readSmallSource(file: SourceFile, into: Buffer): Buffer {
  const source = sourcePath(file);
  let fd: number;
  try {
    fd = openSync(source, FILE_FLAGS);
  } catch (err) {
    throw isRaceErrno(err) ? changedError(file.path, err) : err;
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    checkOpenedFile(st, fd, file, source);
    const buf = into.subarray(0, file.size);
    for (let off = 0; off < buf.length;) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) {
        throw changedError(file.path);
      }
      off += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** Files up to this size are read whole with readSmallSource. */
export const SMALL_FILE = 256 * 1024;

/** The time slice after which a loop of blocking reads lets the event loop run. */
const SLICE_MS = 8;

/** Returns a function to call between blocking steps: it yields once a slice is used up. */
export function slicer(): () => Promise<void> {
  let since = performance.now();
  return async () => {
    if (performance.now() - since >= SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      since = performance.now();
    }
  };
}

/**
 * The content of an open source file in chunks of at most `chunkSize` bytes, exactly `size`
 * bytes from offset 0; a file that ends early is `scenario_changed`. Each chunk is a view of
 * `reuse` when given (valid until the next one is asked for), else a fresh buffer.
 */
export async function* readChunks(
  fh: FileHandle,
  file: SourceFile,
  chunkSize: number,
  reuse?: Buffer,
): AsyncGenerator<Buffer> {
  for (let pos = 0; pos < file.size;) {
    const n = Math.min(chunkSize, file.size - pos);
    const buf = reuse ? reuse.subarray(0, n) : Buffer.allocUnsafe(n);
    for (let off = 0; off < buf.length;) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, pos + off);
      if (bytesRead === 0) {
        throw changedError(file.path);
      }
      off += bytesRead;
    }
    pos += buf.length;
    yield buf;
  }
}

/**
 * Records on each walked file (mapped to its lstat link count) how many of its links the tree
 * holds. A file with more links than that has a name outside the scenario and is refused
 * (`scenario_hard_link`): a hard link must not bring in content its author could not read.
 */
export function checkHardLinks(nlinks: Map<SourceFile, number>): void {
  const key = (e: SourceFile): string => `${e.dev}:${e.ino}`;
  const inTree = new Map<string, number>();
  for (const e of nlinks.keys()) {
    inTree.set(key(e), (inTree.get(key(e)) ?? 0) + 1);
  }
  const refused: [SourceFile, number][] = [];
  for (const [e, nlink] of nlinks) {
    e.links = inTree.get(key(e)) ?? 1;
    if (nlink > e.links) {
      refused.push([e, nlink]);
    }
  }
  if (refused.length) {
    const [e, nlink] = refused.sort(([a], [b]) => (a.path < b.path ? -1 : 1))[0];
    throw hardLinkError(e.path, nlink, e.links);
  }
}

/**
 * `scenario_hard_link`: the file has more hard links than the tree holds, so another name for
 * it lies outside the scenario (or in a skipped `node_modules`/`.git`) and its content may not
 * be the scenario author's to ship.
 */
function hardLinkError(shown: string, nlink: number, inTree: number): BundleError {
  return new BundleError(
    'scenario_hard_link',
    `${shown} has ${nlink} hard links but only ${inTree} inside the scenario; a file linked from outside the scenario is refused (copy it instead)`,
    { details: [{ path: shown, message: 'hard link to a file outside the scenario' }] },
  );
}
