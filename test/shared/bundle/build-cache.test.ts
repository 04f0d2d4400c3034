import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  mkdir,
  readdir,
  readFile,
  rm,
  stat,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { buildBundle, type BuiltBundle } from '../../../shared/bundle/build.js';
import { BundleError } from '../../../shared/bundle/errors.js';
import { manifestSchema } from '../../../shared/manifest.js';
import { buildManifest, removeTempDir } from '../../factories.js';
import { createFixture, listTar, type Fixture } from './helpers.js';

describe('buildBundle: determinism and cache', () => {
  let fx: Fixture;
  const build = (over: { cacheDir?: string; force?: boolean } = {}): Promise<BuiltBundle> =>
    buildBundle({
      manifest: fx.manifest,
      scenariosDir: fx.scenariosDir,
      scriptsDir: fx.scriptsDir,
      cacheDir: over.cacheDir ?? fx.cacheDir,
      force: over.force,
    });

  beforeEach(async () => {
    fx = await createFixture({
      manifest: { env: { TOKEN: 's3cret' } },
      files: {
        'lib/util.js': 'module.exports = 1;\n',
        'bin/run': { content: '#!/bin/sh\necho hi\n', mode: 0o755 },
        'assets/big.bin': randomBytes(600 * 1024),
      },
    });
  });
  afterEach(() => removeTempDir(fx.root));

  it('gives the same sha256 and bytes in two cache dirs', async () => {
    const a = await build({ cacheDir: path.join(fx.root, 'cache-a') });
    const b = await build({ cacheDir: path.join(fx.root, 'cache-b') });
    expect(a.sha256).to.match(/^[0-9a-f]{64}$/);
    expect(b.sha256).to.equal(a.sha256);
    expect(b.input_key).to.equal(a.input_key);
    expect((await readFile(a.path)).equals(await readFile(b.path))).to.equal(true);
    expect(a.path).to.equal(path.join(fx.root, 'cache-a', `${a.sha256}.tar.gz`));
    expect(a.size_bytes).to.equal((await stat(a.path)).size);
  });

  it('ignores file mtimes', async () => {
    const a = await build({ cacheDir: path.join(fx.root, 'cache-a') });
    const later = new Date(Date.now() + 3_600_000);
    for (const rel of ['scenario.json', 'server.js', 'lib/util.js', 'assets/big.bin', 'lib']) {
      await utimes(path.join(fx.scenarioDir, rel), later, later);
    }
    const b = await build({ cacheDir: path.join(fx.root, 'cache-b') });
    expect(b.sha256).to.equal(a.sha256);
  });

  it('changes the sha256 when content, the exec bit, env or a port changes', async () => {
    const seen = new Set([(await build({ force: true })).sha256]);
    const expectNew = async (what: string): Promise<void> => {
      const sha = (await build({ force: true })).sha256;
      expect(seen.has(sha), what).to.equal(false);
      seen.add(sha);
    };
    await writeFile(path.join(fx.scenarioDir, 'lib/util.js'), 'module.exports = 2;\n');
    await expectNew('small file content');
    const big = await readFile(path.join(fx.scenarioDir, 'assets/big.bin'));
    big[big.length - 1] ^= 1;
    await writeFile(path.join(fx.scenarioDir, 'assets/big.bin'), big);
    await expectNew('large file content');
    await chmod(path.join(fx.scenarioDir, 'lib/util.js'), 0o755);
    await expectNew('exec bit');
    fx.manifest = manifestSchema.parse(buildManifest({ env: { TOKEN: 'other' } }));
    await expectNew('env');
    fx.manifest = manifestSchema.parse(
      buildManifest({ env: { TOKEN: 'other' }, ports: { web: 18090 } }),
    );
    await expectNew('port');
    await writeFile(path.join(fx.scriptsDir, 'manage.sh'), '#!/bin/sh\nexit 1\n');
    await expectNew('script');
    await writeFile(path.join(fx.scriptsDir, 'lib/common.sh'), 'say() { :; }\n');
    await expectNew('lib file content');
    await writeFile(path.join(fx.scriptsDir, 'lib/extra.sh'), '# more\n');
    await expectNew('lib file added');
  });

  it('ships lib/*.sh sorted and ignores other names there', async () => {
    await writeFile(path.join(fx.scriptsDir, 'lib/b.sh'), '# b\n');
    await writeFile(path.join(fx.scriptsDir, 'lib/a.sh'), '# a\n');
    const first = await build();
    await writeFile(path.join(fx.scriptsDir, 'lib/notes.txt'), 'not shipped\n');
    await mkdir(path.join(fx.scriptsDir, 'lib/sub.sh'));
    const second = await build();
    expect(second.cached, 'same input key').to.equal(true);
    const names = (await listTar(first.path)).map((m) => m.name);
    expect(names.filter((n) => n.startsWith('lib/'))).to.deep.equal([
      'lib/',
      'lib/a.sh',
      'lib/b.sh',
      'lib/common.sh',
    ]);
  });

  it('returns cached:true on a hit without touching the file', async () => {
    const first = await build();
    expect(first.cached).to.equal(false);
    const before = await stat(first.path);
    await new Promise((r) => setTimeout(r, 20));
    const second = await build();
    expect(second).to.deep.equal({ ...first, cached: true });
    const after = await stat(second.path);
    expect([after.ino, after.mtimeMs]).to.deep.equal([before.ino, before.mtimeMs]);
  });

  it('rewrites the file when forced, with the same sha256', async () => {
    const first = await build();
    const before = await stat(first.path);
    const forced = await build({ force: true });
    expect(forced.cached).to.equal(false);
    expect(forced.sha256).to.equal(first.sha256);
    expect((await stat(forced.path)).ino).not.to.equal(before.ino);
  });

  it('rebuilds when the index points at a bundle that is gone', async () => {
    const first = await build();
    await unlink(first.path);
    const again = await build();
    expect(again.cached).to.equal(false);
    expect(again.sha256).to.equal(first.sha256);
    expect((await stat(again.path)).size).to.equal(first.size_bytes);
  });

  it('writes mode 0600 files, an index entry, and no leftover temp files', async () => {
    const built = await build();
    expect((await stat(built.path)).mode & 0o777).to.equal(0o600);
    const index = path.join(fx.cacheDir, 'index', built.input_key);
    expect((await readFile(index, 'utf8')).trim()).to.equal(built.sha256);
    expect((await readdir(fx.cacheDir)).sort()).to.deep.equal([
      `${built.sha256}.index.jsonl`,
      `${built.sha256}.tar.gz`,
      'index',
      'stat-index',
    ]);
    const indexFile = path.join(fx.cacheDir, `${built.sha256}.index.jsonl`);
    expect((await stat(indexFile)).mode & 0o777).to.equal(0o600);
  });

  it('cleans up stale temp files of crashed builds and keeps fresh ones', async () => {
    await build();
    const stale = path.join(fx.cacheDir, '.tmp-1-dead.tar.gz');
    const fresh = path.join(fx.cacheDir, '.tmp-2-live.tar.gz');
    await writeFile(stale, 'half a bundle');
    await writeFile(fresh, 'another build in progress');
    const old = new Date(Date.now() - 2 * 3_600_000);
    await utimes(stale, old, old);
    await build({ force: true });
    const names = await readdir(fx.cacheDir);
    expect(names).not.to.include('.tmp-1-dead.tar.gz');
    expect(names).to.include('.tmp-2-live.tar.gz');
  });

  it('throws scripts_not_found when manage.sh is missing', async () => {
    await unlink(path.join(fx.scriptsDir, 'manage.sh'));
    const err = await build().catch((e: unknown) => e);
    expect(err).to.be.instanceOf(BundleError);
    expect((err as BundleError).code).to.equal('scripts_not_found');
  });

  it('throws scripts_not_found when the lib folder is missing', async () => {
    await rm(path.join(fx.scriptsDir, 'lib'), { recursive: true });
    const err = await build().catch((e: unknown) => e);
    expect((err as BundleError).code).to.equal('scripts_not_found');
    expect((err as BundleError).message).to.contain('lib/');
  });

  it('throws scenario_invalid when the scenario needs a port the manifest lacks', async () => {
    fx.manifest = manifestSchema.parse(buildManifest({ ports: { api: 18081 } }));
    const err = await build().catch((e: unknown) => e);
    expect((err as BundleError).code).to.equal('scenario_invalid');
    expect((err as BundleError).details).to.have.length(1);
  });
});
