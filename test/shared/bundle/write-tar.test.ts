import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, readdir, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BundleError } from '../../../shared/bundle/errors.js';
import type { BundleEntry, FileEntry } from '../../../shared/bundle/entries.js';
import { FileHashes } from '../../../shared/bundle/file-hashes.js';
import { computeInputKey, sha256 } from '../../../shared/bundle/input-key.js';
import { PROC_FD } from '../../../shared/bundle/source-file.js';
import { writeTarGz } from '../../../shared/bundle/write-tar.js';
import { makeTempDir, removeTempDir } from '../../factories.js';
import { listTar, requireBinary, run } from './helpers.js';

/** A file entry for `source` as the tree walk would record it. */
async function walked(source: string, archivePath: string): Promise<FileEntry> {
  const st = await lstat(source, { bigint: true });
  const root = { dir: path.dirname(source), prefix: path.posix.dirname(archivePath) };
  const size = Number(st.size);
  return {
    kind: 'file',
    path: archivePath,
    mode: 0o644,
    size,
    root,
    dev: st.dev,
    ino: st.ino,
    links: 1,
  };
}

/** The BundleError code `p` rejects with (or a description of what it did instead). */
const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (err: unknown) => (err instanceof BundleError ? err.code : String(err)),
  );

describe('writeTarGz', () => {
  let dir: string;
  let entries: BundleEntry[];

  beforeEach(async () => {
    dir = await makeTempDir();
    await writeFile(path.join(dir, 'small'), 'small\n');
    await writeFile(path.join(dir, 'large'), randomBytes(2 * 1024 * 1024));
    entries = await Promise.all(
      ['large', 'small'].map((name) => walked(path.join(dir, name), `scenario/${name}`)),
    );
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

describe('reading walked files (no-follow, checked descriptors)', () => {
  let dir: string;
  let secret: string;
  const MARKER = 'SECRET-0123456789';

  beforeEach(async () => {
    dir = await makeTempDir();
    secret = path.join(dir, 'outside', 'secret');
    await mkdir(path.join(dir, 'outside'));
    await mkdir(path.join(dir, 'tree', 'sub'), { recursive: true });
    await writeFile(secret, MARKER);
    // Same size as the secret, so no size check gives a swap away.
    await writeFile(path.join(dir, 'tree', 'sub', 'f'), 'a'.repeat(MARKER.length));
  });
  afterEach(() => removeTempDir(dir));

  const swapForLink = async (file: string, target: string): Promise<void> => {
    await symlink(target, `${file}.new`);
    await rename(`${file}.new`, file);
  };

  it('hashing refuses a file swapped for a symlink after the walk', async () => {
    const file = path.join(dir, 'tree', 'sub', 'f');
    const entry = await walked(file, 'scenario/sub/f');
    await swapForLink(file, secret);
    expect(await codeOf(computeInputKey([entry]))).to.equal('scenario_changed');
  });

  it('the tar writer refuses a swapped file even when handed its target’s hash', async () => {
    const file = path.join(dir, 'tree', 'sub', 'f');
    const entry = await walked(file, 'scenario/sub/f');
    await swapForLink(file, secret);
    const hashes = FileHashes.of([sha256(Buffer.from(MARKER))]);
    const out = path.join(dir, 'out.tar.gz');
    expect(await codeOf(writeTarGz([entry], hashes, out))).to.equal('scenario_changed');
  });

  it('refuses a file replaced by another one (new inode) after the walk', async () => {
    const file = path.join(dir, 'tree', 'sub', 'f');
    const entry = await walked(file, 'scenario/sub/f');
    await writeFile(`${file}.new`, 'b'.repeat(MARKER.length));
    await rename(`${file}.new`, file);
    expect(await codeOf(computeInputKey([entry]))).to.equal('scenario_changed');
  });

  it('refuses a file reached through a directory swapped for a symlink', async function () {
    if (PROC_FD === null) {
      this.skip(); // only Linux's /proc/self/fd shows which directories a path went through
    }
    // As if the walk had been fooled into listing the outside directory: same inode and size.
    const entry = await walked(secret, 'scenario/sub/f');
    await rename(path.join(dir, 'outside', 'secret'), path.join(dir, 'outside', 'f'));
    await rename(path.join(dir, 'tree', 'sub'), path.join(dir, 'sub-aside'));
    await symlink(path.join(dir, 'outside'), path.join(dir, 'tree', 'sub'));
    entry.root = { dir: path.join(dir, 'tree', 'sub'), prefix: 'scenario/sub' };
    expect(await codeOf(computeInputKey([entry]))).to.equal('scenario_changed');
  });

  it('refuses a file that gained a hard link outside the tree after the walk', async () => {
    const file = path.join(dir, 'tree', 'sub', 'f');
    const entry = await walked(file, 'scenario/sub/f');
    await link(file, path.join(dir, 'outside', 'second-name'));
    expect(await codeOf(computeInputKey([entry]))).to.equal('scenario_hard_link');
  });

  it('refuses a FIFO swapped in without blocking on it', async function () {
    requireBinary(this, 'mkfifo', 'coreutils');
    const file = path.join(dir, 'tree', 'sub', 'f');
    const entry = await walked(file, 'scenario/sub/f');
    await run('mkfifo', [`${file}.new`]);
    await rename(`${file}.new`, file);
    this.timeout(5000);
    expect(await codeOf(computeInputKey([entry]))).to.equal('scenario_changed');
  });
});
