import { expect } from 'chai';
import { readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildBundle, type BuiltBundle } from '../../../shared/bundle/build.js';
import { computeBundleIndex, loadBundleIndex } from '../../../shared/bundle/bundle-index.js';
import { indexFile } from '../../../shared/bundle/index-file.js';
import { removeTempDir } from '../../factories.js';
import { createFixture, type Fixture } from './helpers.js';

describe('bundle index', () => {
  let fx: Fixture;
  let built: BuiltBundle;

  beforeEach(async () => {
    fx = await createFixture({
      files: {
        'lib/util.js': 'module.exports = 1;\n',
        'lib/link-to-util': { symlink: 'util.js' },
        [`deep/${'n'.repeat(120)}.txt`]: 'a name only PAX holds\n',
        'copy.js': 'module.exports = 1;\n',
      },
    });
    built = await buildBundle({
      manifest: fx.manifest,
      scenariosDir: fx.scenariosDir,
      cacheDir: fx.cacheDir,
      scriptsDir: fx.scriptsDir,
    });
  });
  afterEach(() => removeTempDir(fx.root));

  it('is written by the build, equal to the index read back from the tar.gz', async () => {
    const written = await readFile(indexFile(fx.cacheDir, built.sha256), 'utf8');
    const trailer = JSON.parse(written.trimEnd().split('\n').pop() ?? '') as unknown;
    const computed = await computeBundleIndex(built.path, built.sha256);
    expect(trailer).to.deep.equal({ v: 2, bundle: built.sha256, entries: computed.entries.length });
    expect(await loadBundleIndex(fx.cacheDir, built.sha256)).to.deep.equal(computed);
    const types = new Set(computed.entries.map((e) => e.type));
    expect([...types].sort()).to.deep.equal(['directory', 'file', 'symlink']);
  });

  it('is computed from the tar.gz and cached when the build left none', async () => {
    const file = indexFile(fx.cacheDir, built.sha256);
    const expected = await loadBundleIndex(fx.cacheDir, built.sha256);
    await unlink(file);
    expect(await loadBundleIndex(fx.cacheDir, built.sha256)).to.deep.equal(expected);
    expect(await readFile(file, 'utf8')).to.match(/"entries":\d+\}\n$/);
  });

  it('is recomputed when the cached file lost its trailer or names another bundle', async () => {
    const file = indexFile(fx.cacheDir, built.sha256);
    const whole = await readFile(file, 'utf8');
    const expected = await loadBundleIndex(fx.cacheDir, built.sha256);
    const lines = whole.trimEnd().split('\n');
    for (const damaged of [
      `${lines.slice(0, -1).join('\n')}\n`, // a crash before the trailer
      whole.replaceAll(built.sha256, 'f'.repeat(64)),
      `${lines.slice(1).join('\n')}\n`, // an entry missing: the count differs
      `${lines[0].slice(0, 10)}\n`,
    ]) {
      await writeFile(file, damaged);
      expect(await loadBundleIndex(fx.cacheDir, built.sha256)).to.deep.equal(expected);
      expect(await readFile(file, 'utf8')).to.equal(whole);
    }
  });

  it('reads the one-document index that workers cached before builds wrote one', async () => {
    await unlink(indexFile(fx.cacheDir, built.sha256));
    const legacy = {
      bundle: built.sha256,
      entries: [{ type: 'directory' as const, path: 'only-in-the-legacy-file', mode: 0o755 }],
    };
    const legacyFile = path.join(fx.cacheDir, `${built.sha256}.index.json`);
    await writeFile(legacyFile, JSON.stringify({ v: 1, ...legacy }));
    expect(await loadBundleIndex(fx.cacheDir, built.sha256)).to.deep.equal(legacy);
    expect((await readdir(fx.cacheDir)).filter((n) => n.startsWith('.tmp-'))).to.deep.equal([]);
  });
});
