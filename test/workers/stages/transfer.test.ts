/**
 * Delta uploads (issue 10, item 2) against a local target and a real sshd: a first transfer
 * sends the tar.gz and fills the store, a one-file change sends that file only, and the release
 * is the bundle's tree exactly; damage in transit or in the store is caught, prune collects.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, copyFile, mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_SCRIPTS_DIR, type BuiltBundle } from '../../../shared/bundle/index.js';
import { StepError } from '../../../shared/errors.js';
import { LocalTransport } from '../../../shared/transports/local.js';
import { connectSsh } from '../../../shared/transports/ssh.js';
import type { Transport } from '../../../shared/transports/types.js';
import { loadBundleIndex } from '../../../shared/bundle/bundle-index.js';
import { keysText, writeDeltaTar } from '../../../workers/stages/delta-files.js';
import { applyTransfer, transferBundle, type Transfer } from '../../../workers/stages/transfer.js';
import { makeTempDir, removeTempDir } from '../../factories.js';
import { requireBinary, SSHD_BINARY, startSshd, type Sshd } from '../../helpers/sshd.js';
import { resultOf, ok } from '../../helpers/target-release.js';
import {
  bundleOf,
  changeOneFile,
  expectedTree,
  handle,
  snapshot,
  writeManyFiles,
} from './delta-tree.js';

const run = promisify(execFile);

/** A transport whose hooks can damage what arrives or what the target holds. */
function hooked(
  t: Transport,
  hooks: {
    afterPut?: (remote: string) => Promise<void>;
    beforeExec?: (argv: readonly string[]) => Promise<void>;
  },
): Transport {
  return Object.assign(Object.create(t) as Transport, {
    putFile: async (local: string, remote: string) => {
      await t.putFile(local, remote);
      await hooks.afterPut?.(remote);
    },
    exec: async (argv: readonly string[], opts?: Parameters<Transport['exec']>[1]) => {
      await hooks.beforeExec?.(argv);
      return t.exec(argv, opts);
    },
  });
}

for (const kind of ['local', 'ssh'] as const) {
  describe(`delta uploads (${kind} target)`, function () {
    this.timeout(120_000);
    let root: string;
    let scenarios: string;
    let cacheDir: string;
    let workdir: string;
    let sshd: Sshd | undefined;
    let t: Transport;
    const bundles: BuiltBundle[] = [];

    before(async function () {
      if (kind === 'ssh') {
        requireBinary(SSHD_BINARY, 'openssh-server', this);
      }
      root = await makeTempDir('stagecoach-delta-');
      scenarios = path.join(root, 'scenarios');
      cacheDir = path.join(root, 'cache');
      workdir = path.join(root, 'target');
      await writeManyFiles(scenarios, 300, 8 * 1024);
      if (kind === 'ssh') {
        sshd = await startSshd();
        t = await connectSsh({
          host: sshd.host,
          port: sshd.port,
          user: sshd.user,
          keyPath: sshd.clientKeyPath,
          keysDir: os.tmpdir(),
          workdir,
        });
      } else {
        t = new LocalTransport(workdir);
      }
    });

    after(async () => {
      await t?.close();
      await sshd?.stop();
      await removeTempDir(root);
    });

    const dirs = () => ({ cacheDir, scriptsDir: DEFAULT_SCRIPTS_DIR });

    async function ship(b: BuiltBundle, via: Transport = t): Promise<Transfer> {
      const transfer = await transferBundle(via, dirs(), b, handle());
      await applyTransfer(via, transfer, b.sha256, handle());
      return transfer;
    }

    async function expectRelease(b: BuiltBundle): Promise<void> {
      const release = path.join(workdir, 'releases', b.sha256);
      // .setup-ok is manage.sh setup's mark, not the bundle's
      const tree = (await snapshot(release)).filter((e) => e.path !== '.setup-ok');
      expect(tree).to.deep.equal(await expectedTree(b.path));
      expect(existsSync(`${release}.tmp`)).to.equal(false);
      const leftovers = (await readdir(path.join(workdir, 'bundles'))).filter(
        (n) => n.startsWith(b.sha256) && !n.endsWith('.tar.gz'),
      );
      expect(leftovers).to.deep.equal([]);
    }

    async function expectPrivate(): Promise<void> {
      for (const dir of ['bundles', 'releases', 'store']) {
        expect((await stat(path.join(workdir, dir))).mode & 0o777, dir).to.equal(0o700);
      }
      for (const name of await readdir(path.join(workdir, 'store'))) {
        expect((await stat(path.join(workdir, 'store', name))).mode & 0o077, name).to.equal(0);
      }
    }

    it('sends the whole bundle first and fills the store', async () => {
      bundles.push(await bundleOf(scenarios, cacheDir));
      const { outcome } = await ship(bundles[0]);
      expect(outcome).to.include({ mode: 'full', uploaded: true });
      expect(outcome.files_sent).to.equal(outcome.files_total);
      expect(outcome.bytes_sent).to.be.greaterThan(bundles[0].size_bytes);
      await expectRelease(bundles[0]);
      // one blob per content and mode: dup/a.txt and dup/b.txt share one, dup/c.sh has its own
      const index = await loadBundleIndex(cacheDir, bundles[0].sha256);
      const blobs = await readdir(path.join(workdir, 'store'));
      expect(blobs.sort()).to.deep.equal(keysText(index).trimEnd().split('\n').sort());
      expect(blobs.length).to.be.lessThan(outcome.files_total);
      await expectPrivate();
    });

    it('sends only the changed file the second time; the release is the bundle exactly', async () => {
      await changeOneFile(scenarios, 'version 2\n');
      bundles.push(await bundleOf(scenarios, cacheDir));
      const { outcome } = await ship(bundles[1]);
      expect(outcome).to.include({ mode: 'delta', uploaded: true, files_sent: 1 });
      expect(outcome.bytes_sent / outcome.bytes_total).to.be.lessThan(0.05);
      await expectRelease(bundles[1]);
      await expectRelease(bundles[0]); // the earlier release is untouched
      await expectPrivate();
    });

    it('refuses a payload damaged in transit (transfer_corrupt) and leaves no release', async () => {
      await changeOneFile(scenarios, 'version 3\n');
      const b = await bundleOf(scenarios, cacheDir);
      const damaging = hooked(t, {
        afterPut: async (remote) => {
          if (remote.endsWith('.delta.tar.gz')) {
            await appendFile(path.join(workdir, remote), 'x');
          }
        },
      });
      const err = await ship(b, damaging).then(
        () => expect.fail('a damaged payload was accepted'),
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(StepError);
      expect((err as StepError).code).to.equal('transfer_corrupt');
      expect(existsSync(path.join(workdir, 'releases', b.sha256))).to.equal(false);
      expect(existsSync(path.join(workdir, 'releases', `${b.sha256}.tmp`))).to.equal(false);
      // the next attempt goes through
      const { outcome } = await ship(b);
      expect(outcome.mode).to.equal('delta');
      await expectRelease(b);
      bundles.push(b);
    });

    it('a store blob damaged before assembly fails the release; a retry sends it again', async () => {
      await changeOneFile(scenarios, 'version 4\n');
      const b = await bundleOf(scenarios, cacheDir);
      const victim = path.join(workdir, 'releases', bundles[0].sha256, 'scenario/bin/run.sh');
      const damaging = hooked(t, {
        beforeExec: async (argv) => {
          if (argv[4] === 'delta') {
            await appendFile(victim, '# written in place through a release\n');
          }
        },
      });
      const err = await ship(b, damaging).then(
        () => expect.fail('a damaged store blob was linked'),
        (e: unknown) => e,
      );
      expect((err as StepError).code).to.equal('transfer_corrupt');
      expect(existsSync(path.join(workdir, 'releases', b.sha256))).to.equal(false);
      expect(existsSync(path.join(workdir, 'releases', `${b.sha256}.tmp`))).to.equal(false);
      const { outcome } = await ship(b);
      expect(outcome).to.include({ mode: 'delta', store_repaired: 1, files_sent: 2 });
      await expectRelease(b);
      bundles.push(b);
    });

    it('refuses an index that names a path outside the release', async () => {
      await changeOneFile(scenarios, 'version 5\n');
      const b = await bundleOf(scenarios, cacheDir);
      const transfer = await transferBundle(t, dirs(), b, handle());
      expect(transfer.outcome.mode).to.equal('delta');
      // a hostile payload: the same files, plus a tree record that climbs out
      const index = await loadBundleIndex(cacheDir, b.sha256);
      index.entries.push({ type: 'directory', path: '../../escaped', mode: 0o755 });
      const local = path.join(root, 'hostile.tar.gz');
      await writeDeltaTar(index, b.path, new Set(), local);
      await t.putFile(local, `bundles/${b.sha256}.delta.tar.gz`);
      const { stdout } = await run('sha256sum', [local]);
      const hostile: Transfer = { ...transfer, apply: { cmd: 'delta', arg: stdout.slice(0, 64) } };
      const err = await applyTransfer(t, hostile, b.sha256, handle()).then(
        () => expect.fail('a hostile index was applied'),
        (e: unknown) => e as StepError,
      );
      expect(err.message).to.match(/outside the release/);
      expect(existsSync(path.join(workdir, 'releases', `${b.sha256}.tmp`))).to.equal(false);
      expect(existsSync(path.join(workdir, 'escaped'))).to.equal(false);
    });

    it('refuses a cached bundle that does not match its sha256 before sending anything', async () => {
      const otherCache = path.join(root, 'damaged-cache');
      const fake = 'a'.repeat(64);
      await mkdir(otherCache);
      await copyFile(bundles[0].path, path.join(otherCache, `${fake}.tar.gz`));
      const sent: string[] = [];
      const watching = hooked(t, { afterPut: async (remote) => void sent.push(remote) });
      const err = await transferBundle(
        watching,
        { cacheDir: otherCache, scriptsDir: DEFAULT_SCRIPTS_DIR },
        { sha256: fake, size_bytes: bundles[0].size_bytes },
        handle(),
      ).then(
        () => expect.fail('a damaged cached bundle was sent'),
        (e: unknown) => e as StepError,
      );
      expect(err.code).to.equal('transfer_corrupt');
      expect(sent).to.deep.equal([]);
    });

    it('prune removes the blobs no kept release links to', async () => {
      const names = bundles.map((b) => b.sha256);
      for (const [i, name] of names.entries()) {
        const okFile = path.join(workdir, 'releases', name, '.setup-ok');
        await writeFile(okFile, '');
        const when = new Date(Date.UTC(2026, 0, 1 + i));
        await utimes(okFile, when, when);
      }
      const newest = names[names.length - 1];
      const before = new Set(await readdir(path.join(workdir, 'store')));
      const r = await run('./manage.sh', ['prune', '0'], {
        cwd: path.join(workdir, 'releases', newest),
        env: { ...process.env, STAGECOACH_HOME: workdir },
      }).then(
        (x) => ({ ...x, code: 0 }),
        (e: { stdout: string; stderr: string; code: number }) => e,
      );
      const result = resultOf(ok(r));
      expect(result.removed.sort()).to.deep.equal(names.slice(0, -1).sort());
      const after = new Set(await readdir(path.join(workdir, 'store')));
      // the three old versions of changing.txt (and run.sh's damaged copy) went
      expect(result.blobs_removed).to.equal(before.size - after.size);
      expect(before.size - after.size).to.be.at.least(names.length - 1);
      await expectRelease(bundles[bundles.length - 1]);
      // what the refused hostile attempt left in bundles/ went too
      expect(
        (await readdir(path.join(workdir, 'bundles'))).filter(
          (n) => !n.endsWith('.tar.gz') || n.includes('.delta.'),
        ),
      ).to.deep.equal([]);
      for (const name of after) {
        const st = await stat(path.join(workdir, 'store', name));
        expect(st.nlink, name).to.be.at.least(2);
      }
    });
  });
}
