/** Helpers for the delta-upload tests: a scenario of many files, bundles of it, tree snapshots. */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildBundle, type BuiltBundle } from '../../../shared/bundle/index.js';
import type { StepHandle } from '../../../workers/recorder.js';
import { buildManifest, writeScenarioDir, type FixtureFile } from '../../factories.js';

const run = promisify(execFile);

/** One entry of a tree: type, permission bits, and the content's sha256 or the link target. */
export interface Snap {
  path: string;
  type: 'd' | 'f' | 'l';
  mode: number;
  what: string;
}

/** Every entry below `root` (symlinks not followed), sorted by path. */
export async function snapshot(root: string, rel = ''): Promise<Snap[]> {
  const out: Snap[] = [];
  for (const name of (await readdir(path.join(root, rel))).sort()) {
    const child = rel ? `${rel}/${name}` : name;
    const abs = path.join(root, child);
    const st = await lstat(abs);
    const mode = st.mode & 0o7777;
    if (st.isSymbolicLink()) {
      out.push({ path: child, type: 'l', mode: 0o777, what: await readlink(abs) });
    } else if (st.isDirectory()) {
      out.push({ path: child, type: 'd', mode, what: '' }, ...(await snapshot(root, child)));
    } else {
      const sha = createHash('sha256')
        .update(await readFile(abs))
        .digest('hex');
      out.push({ path: child, type: 'f', mode, what: sha });
    }
  }
  return out;
}

/** The tree a release of `bundlePath` must be: the tar.gz extracted with tar, then `go=`. */
export async function expectedTree(bundlePath: string): Promise<Snap[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-delta-ref-'));
  try {
    await run('tar', ['-xzf', bundlePath, '-C', dir]);
    await run('chmod', ['-R', 'go=', dir]);
    return await snapshot(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A scenario of `count` random files of `size` bytes, plus names and modes that are awkward. */
export async function writeManyFiles(
  scenariosDir: string,
  count: number,
  size: number,
): Promise<void> {
  const files: Record<string, FixtureFile> = {};
  for (let i = 0; i < count; i++) {
    files[`data/d${i % 20}/f${i}.bin`] = randomBytes(size);
  }
  const same = randomBytes(1000);
  Object.assign(files, {
    'bin/run.sh': { content: '#!/bin/sh\necho run\n', mode: 0o755 },
    // the same content at two paths, and once more with another mode: two store blobs
    'dup/a.txt': same,
    'dup/b.txt': same,
    'dup/c.sh': { content: same, mode: 0o755 },
    'names/with space.txt': 'space\n',
    'names/back\\slash.txt': 'backslash\n',
    'names/new\nline.txt': 'newline\n',
    'names/link': { symlink: 'with space.txt' },
    'empty/.keep': '',
    'changing.txt': 'version 1\n',
  });
  await writeScenarioDir(scenariosDir, { relPath: 'many', files });
}

/** Builds the bundle of scenario `many` into `cacheDir`. */
export function bundleOf(scenariosDir: string, cacheDir: string): Promise<BuiltBundle> {
  return buildBundle({
    manifest: buildManifest({ scenario: { path: 'many' } }) as never,
    scenariosDir,
    cacheDir,
  });
}

/** Rewrites the scenario's `changing.txt`. */
export function changeOneFile(scenariosDir: string, text: string): Promise<void> {
  return writeFile(path.join(scenariosDir, 'many', 'changing.txt'), text);
}

/** A step handle that keeps what it is given. */
export function handle(): StepHandle & { text: string } {
  const h = {
    text: '',
    output: (_s: string, chunk: string) => void (h.text += chunk),
  };
  return h as StepHandle & { text: string };
}
