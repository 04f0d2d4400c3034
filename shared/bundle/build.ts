/** buildBundle: the deterministic, content-addressed bundle of a manifest and its scenario. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { manifestSchema, type Manifest } from '../manifest.js';
import { IndexFileWriter } from './index-file.js';
import {
  bundleFile,
  ensureCacheDirs,
  INDEX,
  publish,
  readIndex,
  removeStaleTemps,
  sizeIfExists,
  tempPath,
  unlinkQuietly,
  writeIndex,
} from './cache.js';
import {
  collectTreeEntries,
  configEntries,
  scriptEntries,
  sortEntries,
  unpackedSize,
  type BundleEntry,
} from './entries.js';
import { BundleError } from './errors.js';
import { computeInputKey } from './input-key.js';
import { loadScenario } from './load-scenario.js';
import { renderConfig } from './render-config.js';
import { STAT_INDEX, statKey } from './stat-key.js';
import { writeTarGz } from './write-tar.js';

/** The project's target-side scripts (`manage.sh`, `setup.sh`, `lib/*.sh`). */
export const DEFAULT_SCRIPTS_DIR = fileURLToPath(new URL('../../scripts/target/', import.meta.url));
/** Default limit on a bundle's unpacked size (BUNDLE_MAX_BYTES): 2 GiB. */
export const DEFAULT_BUNDLE_MAX_BYTES = 2 * 1024 ** 3;

/**
 * What buildBundle needs; `scriptsDir` defaults to DEFAULT_SCRIPTS_DIR, `force` to false,
 * `maxBytes` (the unpacked size allowed, config BUNDLE_MAX_BYTES) to DEFAULT_BUNDLE_MAX_BYTES.
 */
export interface BuildBundleOptions {
  manifest: Manifest;
  scenariosDir: string;
  cacheDir: string;
  scriptsDir?: string;
  force?: boolean;
  maxBytes?: number;
}

/** A bundle in the cache: `path` is `<cacheDir>/<sha256>.tar.gz`. */
export interface BuiltBundle {
  sha256: string;
  size_bytes: number;
  path: string;
  cached: boolean;
  input_key: string;
}

/**
 * Builds the bundle into `cacheDir`, or returns the cached one for the same inputs unless
 * `force`. Throws BundleError (scenario_not_found, scenario_invalid, scenario_path_escape,
 * scenario_changed, scenario_hard_link, scripts_not_found, bundle_too_large).
 */
export async function buildBundle(opts: BuildBundleOptions): Promise<BuiltBundle> {
  const manifest = manifestSchema.parse(opts.manifest);
  const cacheDir = path.resolve(opts.cacheDir);
  const walkStart = Date.now();
  const entries = await collectBundleEntries(manifest, opts.scenariosDir, opts.scriptsDir);
  checkUnpackedSize(entries, opts.maxBytes ?? DEFAULT_BUNDLE_MAX_BYTES);
  await ensureCacheDirs(cacheDir, [INDEX, STAT_INDEX]);
  const byStat = statKey(entries, walkStart);
  if (!opts.force && byStat) {
    const known = await readIndex(cacheDir, byStat, STAT_INDEX);
    const hit = known === null ? null : await cachedBundle(cacheDir, known);
    if (hit) {
      return hit; // not a byte read: the tree's stamps are those of a tree already built
    }
  }
  const { key, fileHashes } = await computeInputKey(entries);
  const remember = async (): Promise<void> => {
    if (byStat) {
      await writeIndex(cacheDir, byStat, key, STAT_INDEX);
    }
  };
  if (!opts.force) {
    const hit = await cachedBundle(cacheDir, key);
    if (hit) {
      await remember();
      return hit;
    }
  }
  await removeStaleTemps(cacheDir);
  await removeStaleTemps(path.join(cacheDir, INDEX));
  await removeStaleTemps(path.join(cacheDir, STAT_INDEX));
  const tmp = tempPath(cacheDir, '.tar.gz');
  // the bundle's index, written as the tar is: setup reads it instead of the tar.gz
  const index = new IndexFileWriter(cacheDir);
  try {
    const { sha256, size } = await writeTarGz(entries, fileHashes, tmp, index.add);
    await index.finish(sha256);
    const final = bundleFile(cacheDir, sha256);
    await publish(tmp, final);
    await writeIndex(cacheDir, key, sha256);
    await remember();
    return { sha256, size_bytes: size, path: final, cached: false, input_key: key };
  } catch (err) {
    await index.discard();
    await unlinkQuietly(tmp);
    throw err;
  }
}

/** Every entry of the bundle for `manifest`, sorted by archive path (nothing is read yet). */
export async function collectBundleEntries(
  manifest: Manifest,
  scenariosDir: string,
  scriptsDir = DEFAULT_SCRIPTS_DIR,
): Promise<BundleEntry[]> {
  const { dir, scenario } = await loadScenario(scenariosDir, manifest.scenario.path);
  const config = renderConfig(manifest, scenario);
  const [scripts, tree] = await Promise.all([
    scriptEntries(scriptsDir),
    collectTreeEntries(dir, 'scenario'),
  ]);
  return sortEntries([...scripts, ...tree, ...configEntries(config)]);
}

/**
 * Refuses a bundle whose files would take more than `maxBytes` once unpacked, before any file
 * is read: sizes are the walk's, and every read is held to them (a sparse file counts in full,
 * as it is written in full on the target).
 */
function checkUnpackedSize(entries: readonly BundleEntry[], maxBytes: number): void {
  const total = unpackedSize(entries);
  if (total <= maxBytes) {
    return;
  }
  const largest = entries
    .filter((e) => e.kind === 'file')
    .sort((a, b) => b.size - a.size || (a.path < b.path ? -1 : 1))
    .slice(0, 5)
    .map((e) => ({ path: e.path, size_bytes: e.size }));
  throw new BundleError(
    'bundle_too_large',
    `the bundle would unpack to ${total} bytes, more than BUNDLE_MAX_BYTES (${maxBytes}); remove large files from the scenario or raise the limit`,
    { details: { unpacked_bytes: total, max_bytes: maxBytes, largest_files: largest } },
  );
}

async function cachedBundle(cacheDir: string, inputKey: string): Promise<BuiltBundle | null> {
  const sha256 = await readIndex(cacheDir, inputKey);
  if (sha256 === null) {
    return null;
  }
  const file = bundleFile(cacheDir, sha256);
  const size = await sizeIfExists(file);
  if (size === null) {
    return null;
  }
  return { sha256, size_bytes: size, path: file, cached: true, input_key: inputKey };
}
