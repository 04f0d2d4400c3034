import { expect } from 'chai';
import { link, mkdir, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  buildBundle,
  collectBundleEntries,
  DEFAULT_BUNDLE_MAX_BYTES,
  type BuiltBundle,
} from '../../../shared/bundle/build.js';
import { unpackedSize } from '../../../shared/bundle/entries.js';
import { BundleError } from '../../../shared/bundle/errors.js';
import { removeTempDir } from '../../factories.js';
import { createFixture, listTar, type Fixture } from './helpers.js';

describe('buildBundle: hard links and the size limit', () => {
  let fx: Fixture;
  const build = (maxBytes?: number): Promise<BuiltBundle> =>
    buildBundle({
      manifest: fx.manifest,
      scenariosDir: fx.scenariosDir,
      scriptsDir: fx.scriptsDir,
      cacheDir: fx.cacheDir,
      maxBytes,
    });
  const errorOf = (p: Promise<unknown>): Promise<BundleError> =>
    p.then(
      () => expect.fail('expected the build to be refused'),
      (err: unknown) => {
        expect(err).to.be.instanceOf(BundleError);
        return err as BundleError;
      },
    );

  beforeEach(async () => {
    fx = await createFixture({ files: { 'lib/util.js': 'module.exports = 1;\n' } });
  });
  afterEach(() => removeTempDir(fx.root));

  describe('hard links', () => {
    it('ships a file hard-linked twice inside the scenario under both names', async () => {
      await link(path.join(fx.scenarioDir, 'lib/util.js'), path.join(fx.scenarioDir, 'copy.js'));
      const members = await listTar((await build()).path);
      for (const name of ['scenario/lib/util.js', 'scenario/copy.js']) {
        const m = members.find((x) => x.name === name);
        expect(m?.type, name).to.equal('file');
        expect(m?.content.toString(), name).to.equal('module.exports = 1;\n');
      }
    });

    it('refuses a file whose other name is outside the scenario (scenario_hard_link)', async () => {
      await writeFile(path.join(fx.root, 'outside.txt'), 'not the author’s\n');
      await link(path.join(fx.root, 'outside.txt'), path.join(fx.scenarioDir, 'lib/in.txt'));
      const err = await errorOf(build());
      expect(err.code).to.equal('scenario_hard_link');
      expect(err.message).to.contain('scenario/lib/in.txt has 2 hard links but only 1 inside');
      expect(err.details).to.deep.equal([
        { path: 'scenario/lib/in.txt', message: 'hard link to a file outside the scenario' },
      ]);
    });

    it('refuses a file also linked from node_modules (not bundled, so not inside)', async () => {
      await mkdir(path.join(fx.scenarioDir, 'node_modules'));
      await link(
        path.join(fx.scenarioDir, 'lib/util.js'),
        path.join(fx.scenarioDir, 'node_modules/util.js'),
      );
      expect((await errorOf(build())).code).to.equal('scenario_hard_link');
    });
  });

  describe('BUNDLE_MAX_BYTES', () => {
    it('refuses a sparse file bigger than the limit before reading it', async () => {
      await writeFile(path.join(fx.scenarioDir, 'sparse.bin'), '');
      await truncate(path.join(fx.scenarioDir, 'sparse.bin'), 8 * 1024 * 1024);
      const err = await errorOf(build(1024 * 1024));
      expect(err.code).to.equal('bundle_too_large');
      expect(err.message).to.match(/unpack to \d+ bytes, more than BUNDLE_MAX_BYTES \(1048576\)/);
      const details = err.details as { unpacked_bytes: number; largest_files: unknown[] };
      expect(details.unpacked_bytes).to.be.greaterThan(8 * 1024 * 1024);
      expect(details.largest_files[0]).to.deep.equal({
        path: 'scenario/sparse.bin',
        size_bytes: 8 * 1024 * 1024,
      });
    });

    it('counts every file, scripts and config included, and allows exactly the limit', async () => {
      const entries = await collectBundleEntries(fx.manifest, fx.scenariosDir, fx.scriptsDir);
      const total = unpackedSize(entries);
      expect(total).to.be.greaterThan(0);
      expect((await errorOf(build(total - 1))).code).to.equal('bundle_too_large');
      expect((await build(total)).cached).to.equal(false);
    });

    it('defaults to 2 GiB: a sparse file one byte over is refused at once', async () => {
      expect(DEFAULT_BUNDLE_MAX_BYTES).to.equal(2 * 1024 ** 3);
      await writeFile(path.join(fx.scenarioDir, 'huge.bin'), '');
      await truncate(path.join(fx.scenarioDir, 'huge.bin'), DEFAULT_BUNDLE_MAX_BYTES + 1);
      const started = Date.now();
      expect((await errorOf(build())).code).to.equal('bundle_too_large');
      expect(Date.now() - started, 'refused without reading 2 GiB').to.be.below(2000);
    });
  });
});
