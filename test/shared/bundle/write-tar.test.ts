import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BundleError } from '../../../shared/bundle/errors.js';
import type { BundleEntry } from '../../../shared/bundle/entries.js';
import { computeInputKey } from '../../../shared/bundle/input-key.js';
import { writeTarGz } from '../../../shared/bundle/write-tar.js';
import { makeTempDir, removeTempDir } from '../../factories.js';
import { listTar } from './helpers.js';

describe('writeTarGz', () => {
  let dir: string;
  let entries: BundleEntry[];

  beforeEach(async () => {
    dir = await makeTempDir();
    await writeFile(path.join(dir, 'small'), 'small\n');
    await writeFile(path.join(dir, 'large'), randomBytes(2 * 1024 * 1024));
    entries = ['large', 'small'].map((name) => ({
      kind: 'file',
      path: `scenario/${name}`,
      mode: 0o644,
      size: name === 'small' ? 6 : 2 * 1024 * 1024,
      source: path.join(dir, name),
    }));
  });
  afterEach(() => removeTempDir(dir));

  it('streams files into a tar whose listing matches the entries', async () => {
    const { fileHashes } = await computeInputKey(entries);
    const out = path.join(dir, 'out.tar.gz');
    const { size } = await writeTarGz(entries, fileHashes, out);
    expect(size).to.be.greaterThan(2 * 1024 * 1024);
    const members = await listTar(out);
    expect(members.map((m) => [m.name, m.size])).to.deep.equal([
      ['scenario/large', 2 * 1024 * 1024],
      ['scenario/small', 6],
    ]);
  });

  for (const name of ['small', 'large']) {
    it(`throws scenario_changed when the ${name} file differs from what was hashed`, async () => {
      const { fileHashes } = await computeInputKey(entries);
      const bytes = name === 'small' ? Buffer.from('SMALL\n') : randomBytes(2 * 1024 * 1024);
      await writeFile(path.join(dir, name), bytes);
      const err = await writeTarGz(entries, fileHashes, path.join(dir, 'out.tar.gz')).catch(
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(BundleError);
      expect((err as BundleError).code).to.equal('scenario_changed');
    });
  }

  it('throws scenario_changed when a file grew, and refuses an existing output file', async () => {
    const { fileHashes } = await computeInputKey(entries);
    await writeFile(path.join(dir, 'large'), randomBytes(3 * 1024 * 1024));
    const err = await writeTarGz(entries, fileHashes, path.join(dir, 'out.tar.gz')).catch(
      (e: unknown) => e,
    );
    expect((err as BundleError).code).to.equal('scenario_changed');
    const again = await writeTarGz(entries, fileHashes, path.join(dir, 'small')).catch(
      (e: unknown) => e,
    );
    expect((again as NodeJS.ErrnoException).code).to.equal('EEXIST');
    expect((await readdir(dir)).sort()).to.include.members(['large', 'small']);
  });
});
