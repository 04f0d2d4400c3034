/** Collects what goes into a bundle as a sorted list of entries (no file contents read yet). */
import { lstatSync, readdirSync } from 'node:fs';
import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import path from 'node:path';
import { BundleError, isErrno } from './errors.js';
import { isWithin } from './paths.js';
import type { RenderedFile } from './render-config.js';
import {
  changedError,
  checkHardLinks,
  isRaceErrno,
  slicer,
  withDirectory,
  type SourceFile,
  type SourceRoot,
} from './source-file.js';

/**
 * A scenario file, read from its source path (`root`, see sourcePath) once openSource has
 * checked it against what the walk saw. Flat and small: a tree may hold 100k of them, so no
 * per-file source path or nested objects (about 200 bytes each).
 */
export interface FileEntry extends SourceFile {
  kind: 'file';
  mode: number;
  /**
   * mtime and ctime (ms) as the walk saw them, for the stat key (./stat-key.ts) with `dev`,
   * `ino` and `size`; absent when the walk did not record them.
   */
  mtimeMs?: number;
  ctimeMs?: number;
}

/** One tar entry; `file` entries are streamed from `source`, `buffer` entries are in memory. */
export type BundleEntry =
  | { kind: 'directory'; path: string }
  | FileEntry
  | { kind: 'buffer'; path: string; mode: number; content: Buffer }
  | { kind: 'symlink'; path: string; linkname: string };

/** Directory names never copied from a scenario, at any depth. */
export const SKIPPED_NAMES: ReadonlySet<string> = new Set(['node_modules', '.git']);
/** The target-side scripts copied from the scripts directory to the bundle root. */
export const SCRIPT_NAMES = ['manage.sh', 'setup.sh', 'supervise.sh'] as const;
/** The scripts directory's folder of files manage.sh sources; its `*.sh` go under `lib/`. */
export const SCRIPT_LIB_DIR = 'lib';

const EXEC_MODE = 0o755;
const FILE_MODE = 0o644;

/**
 * Every file, directory and symlink below `root` (a realpath) as entries under `prefix/`.
 * Symlinks stay symlinks, re-pointed at their resolved target with a relative link; one that
 * resolves outside `root` throws `scenario_path_escape`, a dangling one `scenario_invalid`.
 * A file with hard links outside the tree throws `scenario_hard_link`; a path that changes
 * kind while it is walked, `scenario_changed`. Sockets, FIFOs and devices are skipped.
 */
export async function collectTreeEntries(root: string, prefix: string): Promise<BundleEntry[]> {
  const out: BundleEntry[] = [{ kind: 'directory', path: prefix }];
  const nlinks = new Map<FileEntry, number>();
  await walk({ root, prefix, from: { dir: root, prefix }, out, nlinks, pause: slicer() }, '');
  checkHardLinks(nlinks);
  return out;
}

interface Walk {
  root: string;
  prefix: string;
  /** Shared by every file entry of the tree. */
  from: SourceRoot;
  out: BundleEntry[];
  /** The link count lstat saw of each file with more than one link (the others are fine). */
  nlinks: Map<FileEntry, number>;
  pause: () => Promise<void>;
  /** The device of the last file: one bigint shared by a tree's files, not one per file. */
  dev?: bigint;
}

async function walk(w: Walk, rel: string): Promise<void> {
  const shown = rel === '' ? w.prefix : `${w.prefix}/${rel}`;
  // Listed and lstat'ed through the opened directory, so a directory swapped for a symlink
  // after it was seen cannot list another directory's names or inodes into the bundle.
  const subdirs = await withDirectory(path.join(w.root, rel), shown, async (base) => {
    const dirents = readdirSync(base, { withFileTypes: true });
    const subs: string[] = [];
    for (const d of dirents) {
      if (SKIPPED_NAMES.has(d.name)) {
        continue;
      }
      // join, not a template: it makes one flat string where `+` keeps a tree of pieces
      // alive per entry (ConsStrings: a third of the heap a 100k-file walk retained)
      const childRel = rel === '' ? d.name : [rel, d.name].join('/');
      const archivePath = [w.prefix, childRel].join('/');
      if (d.isSymbolicLink()) {
        const abs = path.join(w.root, childRel);
        const linkname = await linkTarget(w.root, abs, `${base}/${d.name}`, archivePath);
        w.out.push({ kind: 'symlink', path: archivePath, linkname });
      } else if (d.isDirectory()) {
        w.out.push({ kind: 'directory', path: archivePath });
        subs.push(childRel);
      } else if (d.isFile()) {
        w.out.push(fileEntry(w, `${base}/${d.name}`, archivePath));
        await w.pause();
      }
    }
    return subs;
  });
  for (const sub of subdirs) {
    await walk(w, sub);
  }
}

/**
 * The entry of one file, lstat'ed with a blocking call (microseconds on a cached inode, where a
 * thread-pool round trip costs 50-100: the walk yields between time slices instead).
 */
function fileEntry(w: Walk, statPath: string, archivePath: string): FileEntry {
  let st;
  try {
    st = lstatSync(statPath, { bigint: true });
  } catch (err) {
    throw isRaceErrno(err) ? changedError(archivePath, err) : err;
  }
  if (!st.isFile()) {
    throw changedError(archivePath);
  }
  const entry: FileEntry = {
    kind: 'file',
    path: archivePath,
    mode: st.mode & 0o111n ? EXEC_MODE : FILE_MODE,
    size: Number(st.size),
    root: w.from,
    dev: st.dev === w.dev ? w.dev : (w.dev = st.dev),
    ino: st.ino,
    links: 1,
    mtimeMs: Number(st.mtimeNs / 1000n) / 1000,
    ctimeMs: Number(st.ctimeNs / 1000n) / 1000,
  };
  if (st.nlink > 1n) {
    w.nlinks.set(entry, Number(st.nlink));
  }
  return entry;
}

/** Bytes the bundle's files take once unpacked (scenario files, scripts and config). */
export function unpackedSize(entries: readonly BundleEntry[]): number {
  let total = 0;
  for (const e of entries) {
    total += e.kind === 'file' ? e.size : e.kind === 'buffer' ? e.content.length : 0;
  }
  return total;
}

/** The link's target inside `root` as a relative path; `readPath` reaches the link itself. */
async function linkTarget(
  root: string,
  linkPath: string,
  readPath: string,
  archivePath: string,
): Promise<string> {
  const shown = path.relative(root, linkPath);
  const target = await readlink(readPath).catch((err: unknown) => {
    throw isRaceErrno(err) ? changedError(archivePath, err) : err;
  });
  const lexical = path.resolve(path.dirname(linkPath), target);
  if (!isWithin(root, lexical)) {
    throw escapeError(shown);
  }
  let resolved: string;
  try {
    resolved = await realpath(linkPath);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ELOOP')) {
      throw new BundleError('scenario_invalid', `symlink ${shown} is dangling or loops`, {
        details: [{ path: shown, message: 'dangling or looping symlink' }],
      });
    }
    throw err;
  }
  if (!isWithin(root, resolved)) {
    throw escapeError(shown);
  }
  return path.relative(path.dirname(linkPath), resolved) || '.';
}

function escapeError(shown: string): BundleError {
  return new BundleError('scenario_path_escape', `symlink ${shown} points outside the scenario`, {
    details: [{ path: shown, message: 'symlink points outside the scenario directory' }],
  });
}

/**
 * SCRIPT_NAMES (mode 0755) plus `lib/*.sh` (mode 0644: sourced, not run), sorted
 * by name, read from `scriptsDir`; a missing script or lib folder → `scripts_not_found`.
 */
export async function scriptEntries(scriptsDir: string): Promise<BundleEntry[]> {
  const [scripts, lib] = await Promise.all([
    Promise.all(SCRIPT_NAMES.map((name) => readScript(scriptsDir, name, EXEC_MODE))),
    libEntries(scriptsDir),
  ]);
  return [...scripts, ...lib];
}

/** The `lib` directory entry and its `*.sh` files (other names are not shipped). */
async function libEntries(scriptsDir: string): Promise<BundleEntry[]> {
  const dir = path.join(scriptsDir, SCRIPT_LIB_DIR);
  const dirents = await readdir(dir, { withFileTypes: true }).catch((err: unknown) => {
    throw isErrno(err, 'ENOENT')
      ? new BundleError('scripts_not_found', `${SCRIPT_LIB_DIR}/ not found in ${scriptsDir}`)
      : err;
  });
  const names = dirents
    .filter((d) => d.isFile() && d.name.endsWith('.sh'))
    .map((d) => d.name)
    .sort();
  const files = await Promise.all(
    names.map((name) => readScript(scriptsDir, `${SCRIPT_LIB_DIR}/${name}`, FILE_MODE)),
  );
  return [{ kind: 'directory', path: SCRIPT_LIB_DIR }, ...files];
}

/** The file `rel` of `scriptsDir` as a bundle entry at the same path. */
async function readScript(scriptsDir: string, rel: string, mode: number): Promise<BundleEntry> {
  try {
    const content = await readFile(path.join(scriptsDir, rel));
    return { kind: 'buffer', path: rel, mode, content };
  } catch (err) {
    if (isErrno(err, 'ENOENT')) {
      throw new BundleError('scripts_not_found', `${rel} not found in ${scriptsDir}`);
    }
    throw err;
  }
}

/** The rendered config files plus their directories (`config/`, `services/`, … and any parent). */
export function configEntries(files: Map<string, RenderedFile>): BundleEntry[] {
  const dirs = new Set(['config', 'config/services', 'config/resources']);
  for (const p of files.keys()) {
    for (let dir = path.posix.dirname(p); dir !== '.'; dir = path.posix.dirname(dir)) {
      dirs.add(dir);
    }
  }
  const out: BundleEntry[] = [...dirs].map((p) => ({ kind: 'directory', path: p }));
  for (const [p, file] of files) {
    out.push({ kind: 'buffer', path: p, mode: file.mode, content: file.content });
  }
  return out;
}

/** Sorts entries by archive path (a parent always precedes its children); rejects duplicates. */
export function sortEntries(entries: BundleEntry[]): BundleEntry[] {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].path === sorted[i - 1].path) {
      throw new Error(`duplicate bundle entry: ${sorted[i].path}`);
    }
  }
  return sorted;
}
