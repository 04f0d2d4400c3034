/**
 * Security finding 7: a scenario author who can change the scenario tree while a bundle is
 * being built must not get a file from outside the tree into the bundle, neither by swapping a
 * file (or a directory) for a symlink mid-build nor by hard-linking an outside file in.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildBundle } from '../../shared/bundle/build.js';
import { BundleError } from '../../shared/bundle/errors.js';
import { removeTempDir } from '../factories.js';
import { createFixture, listTar, type Fixture } from '../shared/bundle/helpers.js';

/** Builds until this many succeeded (at most MAX_BUILDS): each success is a chance to leak. */
const SUCCESSES = 30;
const MAX_BUILDS = 400;
/** Codes a build may fail with while the tree changes under it; anything else is a bug. */
const RACE_CODES = ['scenario_changed', 'scenario_path_escape', 'scenario_invalid'];

/** Busy-waits up to 1 ms, so each state lasts long enough to meet some phase of a build. */
const JITTER = `const jitter = () => {
  const end = process.hrtime.bigint() + BigInt(Math.floor(Math.random() * 1e6));
  while (process.hrtime.bigint() < end);
};`;

/** Swaps a file for a symlink to `secret` and back (atomic renames), in a tight loop. */
const FILE_SWAPPER = `${JITTER}
const fs = require('node:fs');
const [target, secret, spare, content] = process.argv.slice(1);
const l = spare + '/l', r = spare + '/r';
console.log('ready');
for (;;) {
  fs.symlinkSync(secret, l); fs.renameSync(l, target); jitter();
  fs.writeFileSync(r, content); fs.renameSync(r, target); jitter();
}`;

/** Swaps a directory for a symlink to `outside` and back (renames), in a tight loop. */
const DIR_SWAPPER = `${JITTER}
const fs = require('node:fs');
const [target, outside, spare] = process.argv.slice(1);
const aside = spare + '/dir', l = spare + '/l';
fs.symlinkSync(outside, l);
console.log('ready');
for (;;) {
  fs.renameSync(target, aside); fs.renameSync(l, target); jitter();
  fs.renameSync(target, l); fs.renameSync(aside, target); jitter();
}`;

/** Starts a swapper and resolves once its loop runs (node takes a while to start). */
async function startSwapper(script: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['-e', script, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`swapper exited with ${code}`)));
  });
  child.stdout!.resume();
  return child;
}

async function stopSwapper(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}

/** Outcomes of racing builds: successes, successes holding the secret, failures by code. */
interface Tally {
  ok: number;
  leaked: number;
  /** Successes holding the scenario file with other content than the original. */
  altered: number;
  codes: Record<string, number>;
}

/** Builds (forced, so the tar writer reads every time) while the tree is swapped; tallies. */
async function buildRepeatedly(fx: Fixture, marker: string, original: string): Promise<Tally> {
  const tally: Tally = { ok: 0, leaked: 0, altered: 0, codes: {} };
  for (let i = 0; i < MAX_BUILDS && tally.ok < SUCCESSES; i++) {
    try {
      const built = await buildBundle({
        manifest: fx.manifest,
        scenariosDir: fx.scenariosDir,
        scriptsDir: fx.scriptsDir,
        cacheDir: fx.cacheDir,
        force: true,
      });
      tally.ok++;
      if (gunzipSync(await readFile(built.path)).includes(marker)) {
        tally.leaked++;
      }
      const file = (await listTar(built.path)).find((m) => m.name === 'scenario/conf/config.txt');
      // A build that listed the tree while the directory was renamed aside has no such file.
      if (file && file.content.toString() !== original) {
        tally.altered++;
      }
    } catch (err) {
      const code = err instanceof BundleError ? err.code : `not a BundleError: ${String(err)}`;
      tally.codes[code] = (tally.codes[code] ?? 0) + 1;
    }
  }
  return tally;
}

describe('security: bundle builder races (finding 7)', function () {
  this.timeout(120_000);
  let fx: Fixture;
  let secretDir: string;
  let marker: string;
  let original: string;
  let swapper: ChildProcess | undefined;

  beforeEach(async () => {
    marker = `SECRET-${randomBytes(8).toString('hex')}`;
    // Same length as the scenario file it replaces, so no size check gives the swap away.
    original = `${'a'.repeat(marker.length)}\n`;
    secretDir = path.join(os.tmpdir(), `${randomBytes(6).toString('hex')}-secret`);
    await mkdir(secretDir);
    await writeFile(path.join(secretDir, 'config.txt'), `${marker}\n`, { mode: 0o600 });
    fx = await createFixture({ files: { 'conf/config.txt': original } });
    await mkdir(path.join(fx.root, 'spare'));
  });
  afterEach(async () => {
    if (swapper) {
      await stopSwapper(swapper);
      swapper = undefined;
    }
    await removeTempDir(fx.root);
    await rm(secretDir, { recursive: true, force: true });
  });

  const expectNoLeak = (t: Tally): void => {
    const summary = JSON.stringify(t);
    if (process.env.RACE_VERBOSE) {
      console.log(summary);
    }
    expect(t.leaked, `bundles holding the secret: ${summary}`).to.equal(0);
    expect(t.altered, `bundles without the original file: ${summary}`).to.equal(0);
    expect(RACE_CODES, summary).to.include.members(Object.keys(t.codes));
  };

  it('never ships the target of a file swapped for a symlink mid-build', async () => {
    swapper = await startSwapper(FILE_SWAPPER, [
      path.join(fx.scenarioDir, 'conf/config.txt'),
      path.join(secretDir, 'config.txt'),
      path.join(fx.root, 'spare'),
      original,
    ]);
    const tally = await buildRepeatedly(fx, marker, original);
    expectNoLeak(tally);
  });

  it('never ships a file from a directory swapped for a symlink mid-build', async () => {
    swapper = await startSwapper(DIR_SWAPPER, [
      path.join(fx.scenarioDir, 'conf'),
      secretDir,
      path.join(fx.root, 'spare'),
    ]);
    const tally = await buildRepeatedly(fx, marker, original);
    expectNoLeak(tally);
  });

  it('refuses a hard link to a file outside the scenario (scenario_hard_link)', async () => {
    await link(path.join(secretDir, 'config.txt'), path.join(fx.scenarioDir, 'stolen.txt'));
    const err = await buildBundle({
      manifest: fx.manifest,
      scenariosDir: fx.scenariosDir,
      scriptsDir: fx.scriptsDir,
      cacheDir: fx.cacheDir,
    }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(BundleError);
    expect((err as BundleError).code).to.equal('scenario_hard_link');
    expect((err as BundleError).message).to.contain('stolen.txt');
    expect((err as BundleError).message).not.to.contain(marker);
  });
});
