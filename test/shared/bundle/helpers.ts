/** Helpers for the bundle tests: a fixture layout, tar listing, and system binaries. */
import { execFile, spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { manifestSchema, type Manifest, type ManifestInput } from '../../../shared/manifest.js';
import {
  buildManifest,
  makeTempDir,
  writeScenarioDir,
  writeTargetScripts,
  type FixtureFile,
  type ScenarioInput,
} from '../../factories.js';

/** Runs a command without a shell; resolves with its stdout. */
export async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const { stdout } = await promisify(execFile)(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/**
 * Skips the test when `binary` is missing, or fails under CI=true naming the package to install.
 */
export function requireBinary(ctx: Mocha.Context, binary: string, pkg: string): void {
  if (spawnSync(binary, ['--version'], { stdio: 'ignore' }).error === undefined) {
    return;
  }
  if (process.env.CI === 'true') {
    throw new Error(`${binary} is required for this test: apt-get install ${pkg}`);
  }
  ctx.skip();
}

/** A temp root holding `scenarios/`, `scripts/` and cache dirs, plus the manifest to build. */
export interface Fixture {
  root: string;
  scenariosDir: string;
  scenarioDir: string;
  scriptsDir: string;
  cacheDir: string;
  manifest: Manifest;
}

/** Writes a scenario and the target scripts into a fresh temp root. */
export async function createFixture(
  options: {
    manifest?: Partial<ManifestInput>;
    scenario?: ScenarioInput;
    files?: Record<string, FixtureFile>;
  } = {},
): Promise<Fixture> {
  const root = await makeTempDir('stagecoach-bundle-');
  const scenariosDir = path.join(root, 'scenarios');
  const scenarioDir = await writeScenarioDir(scenariosDir, {
    scenario: options.scenario,
    files: options.files,
  });
  const scriptsDir = await writeTargetScripts(path.join(root, 'scripts'));
  const manifest = manifestSchema.parse(buildManifest(options.manifest));
  return {
    root,
    scenariosDir,
    scenarioDir,
    scriptsDir,
    cacheDir: path.join(root, 'cache'),
    manifest,
  };
}

/** One tar member as tar-stream decodes it. */
export interface Member {
  name: string;
  type: string;
  mode: number;
  size: number;
  linkname: string | null;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: Date;
  content: Buffer;
}

/** Every member of a .tar.gz, in archive order, with contents. */
export async function listTar(file: string): Promise<Member[]> {
  const members: Member[] = [];
  const extract = tar.extract();
  const reading = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) {
        chunks.push(chunk as Buffer);
      }
      const h = entry.header;
      members.push({ ...h, linkname: h.linkname ?? null, content: Buffer.concat(chunks) });
    }
  })();
  await pipeline(createReadStream(file), createGunzip(), extract);
  await reading;
  return members;
}
