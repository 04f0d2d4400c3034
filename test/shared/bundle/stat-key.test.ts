import { expect } from 'chai';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  buildBundle,
  collectBundleEntries,
  type BuiltBundle,
} from '../../../shared/bundle/build.js';
import { readIndex } from '../../../shared/bundle/cache.js';
import { RACY_MS, STAT_INDEX, statKey } from '../../../shared/bundle/stat-key.js';
import { removeTempDir } from '../../factories.js';
import { createFixture, type Fixture } from './helpers.js';

/** Waits until every file of the fixture is older than RACY_MS (its stamps can be trusted). */
async function ageTree(fx: Fixture): Promise<void> {
  const entries = await collectBundleEntries(fx.manifest, fx.scenariosDir, fx.scriptsDir);
  while (statKey(entries, Date.now()) === null) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('buildBundle: the stat key', () => {
  let fx: Fixture;
  const build = (): Promise<BuiltBundle> =>
    buildBundle({
      manifest: fx.manifest,
      scenariosDir: fx.scenariosDir,
      scriptsDir: fx.scriptsDir,
      cacheDir: fx.cacheDir,
    });
  const entries = () => collectBundleEntries(fx.manifest, fx.scenariosDir, fx.scriptsDir);

  beforeEach(async () => {
    fx = await createFixture({ files: { 'data.txt': 'aaaa\n' } });
  });
  afterEach(() => removeTempDir(fx.root));

  it('is null while a file changed within RACY_MS, and records nothing for such a tree', async () => {
    expect(statKey(await entries(), Date.now())).to.equal(null);
    expect(statKey(await entries(), Date.now() + RACY_MS + 1000)).to.match(/^[0-9a-f]{64}$/);
    await build();
    const key = statKey(await entries(), Date.now() + RACY_MS + 1000) ?? '';
    expect(await readIndex(fx.cacheDir, key, STAT_INDEX)).to.equal(null);
  });

  it('maps an aged tree to its content key and finds it again without hashing', async function () {
    this.timeout(20_000);
    await ageTree(fx);
    const first = await build();
    const key = statKey(await entries(), Date.now()) ?? '';
    expect(await readIndex(fx.cacheDir, key, STAT_INDEX)).to.equal(first.input_key);
    const again = await build();
    expect(again).to.deep.include({ cached: true, sha256: first.sha256 });
  });

  it('changes when a byte changes though size and mtime are put back (ctime moves)', async function () {
    this.timeout(20_000);
    await ageTree(fx);
    const file = path.join(fx.scenarioDir, 'data.txt');
    const before = await stat(file);
    const key = statKey(await entries(), Date.now());
    const first = await build();
    await writeFile(file, 'bbbb\n');
    await utimes(file, before.atime, before.mtime);
    const later = Date.now() + RACY_MS + 1000;
    expect(statKey(await entries(), later)).to.not.equal(key);
    const second = await build();
    expect(second.cached).to.equal(false);
    expect(second.sha256).to.not.equal(first.sha256);
    expect(second.input_key).to.not.equal(first.input_key);
    expect((await readFile(file, 'utf8')).trim()).to.equal('bbbb');
  });

  it('is null when a file entry carries no stamp (only the content key is used)', async () => {
    const list = (await entries()).map((e) =>
      e.kind === 'file' ? { ...e, mtimeMs: undefined, ctimeMs: undefined } : e,
    );
    expect(statKey(list, Date.now() + RACY_MS + 1000)).to.equal(null);
  });
});
