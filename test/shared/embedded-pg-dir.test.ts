/** Where the embedded cluster lives, decided on real directories (as root; in the tree otherwise). */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import {
  chmod,
  mkdir,
  mkdtemp,
  readFile,
  realpath,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { clusterDir, RELOCATED_ROOT, relocatedHome } from '../../shared/embedded-pg-dir.js';

const isRoot = process.getuid?.() === 0;

describe('shared/embedded-pg-dir', () => {
  const made: string[] = [];
  /** A fresh `mktemp -d` (0700) with a data dir inside. */
  const privateTree = async () => {
    const tree = await mkdtemp(path.join(tmpdir(), 'stagecoach-pgdir-'));
    made.push(tree);
    await mkdir(path.join(tree, 'clone', '.data'), { recursive: true });
    return { tree, data: await realpath(path.join(tree, 'clone', '.data')) };
  };
  after(async () => {
    for (const dir of made) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('keys the relocated home by the real path: one per data dir, the same every time', () => {
    expect(relocatedHome('/root/a/.data')).to.equal(relocatedHome('/root/a/.data'));
    expect(relocatedHome('/root/a/.data')).not.to.equal(relocatedHome('/root/b/.data'));
    expect(path.dirname(relocatedHome('/x'))).to.equal(RELOCATED_ROOT);
  });

  it('not as root: always <data>/pg', async function () {
    if (isRoot) {
      this.skip(); // the root cases below cover the choice
    }
    const { data } = await privateTree();
    expect(await clusterDir(data)).to.deep.equal({
      dir: path.join(data, 'pg'),
      relocated: false,
    });
  });

  describe('as root', function () {
    before(function () {
      if (!isRoot) {
        console.log('    (skipped: relocation only happens as root)');
        this.skip();
      }
    });

    it('a tree postgres can traverse keeps <data>/pg and gets o+x on the data dir only', async () => {
      const { tree, data } = await privateTree();
      await chmod(tree, 0o755);
      await chmod(path.join(tree, 'clone'), 0o711);
      await chmod(data, 0o700);
      expect(await clusterDir(data)).to.deep.equal({
        dir: path.join(data, 'pg'),
        relocated: false,
      });
      expect((await stat(data)).mode & 0o777).to.equal(0o701);
      expect(existsSync(relocatedHome(data))).to.equal(false);
    });

    it('a 0700 tree: the cluster goes to a root-owned 0711 home named by the real path', async () => {
      const { tree, data } = await privateTree();
      const home = relocatedHome(data);
      made.push(home);
      const dataMode = (await stat(data)).mode;
      expect(await clusterDir(data)).to.deep.equal({
        dir: path.join(home, 'pg'),
        relocated: true,
      });
      for (const dir of [RELOCATED_ROOT, home]) {
        const st = await stat(dir);
        expect({ dir, mode: st.mode & 0o777, uid: st.uid }).to.deep.equal({
          dir,
          mode: 0o711,
          uid: 0,
        });
      }
      const owner = path.join(home, 'data-dir');
      expect((await stat(owner)).mode & 0o777).to.equal(0o600);
      expect(await readFile(owner, 'utf8')).to.equal(`${data}\n`);
      expect((await stat(tree)).mode & 0o777, 'the private tree stays private').to.equal(0o700);
      expect((await stat(data)).mode, 'the data dir is left as it was').to.equal(dataMode);

      // the same data dir through a symlink is the same cluster
      const link = path.join(tree, 'link');
      await symlink(data, link);
      expect((await clusterDir(link)).dir).to.equal(path.join(home, 'pg'));
    });

    it('a cluster found in the relocated home stays there after the tree opens up', async () => {
      const { tree, data } = await privateTree();
      const home = relocatedHome(data);
      made.push(home);
      await clusterDir(data);
      await mkdir(path.join(home, 'pg'), { mode: 0o700 });
      await writeFile(path.join(home, 'pg', 'PG_VERSION'), '18\n');
      await chmod(tree, 0o755);
      await chmod(path.join(tree, 'clone'), 0o755);
      expect(await clusterDir(data)).to.deep.equal({ dir: path.join(home, 'pg'), relocated: true });
    });

    it('refuses a home whose data-dir file names another data dir', async () => {
      const { data } = await privateTree();
      const home = relocatedHome(data);
      made.push(home);
      await clusterDir(data);
      await writeFile(path.join(home, 'data-dir'), '/somewhere/else\n');
      const err = await clusterDir(data).catch((e: Error) => e);
      expect(String(err)).to.contain('belongs to another data dir');
    });
  });
});
