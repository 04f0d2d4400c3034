/** manage.sh prune: old releases and their bundles go, current and recent ones stay. */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { assembleRelease, manage, ok, resultOf } from '../helpers/target-release.js';

describe('scripts/target/manage.sh: prune', function () {
  this.timeout(30_000);
  let home: string;
  const names = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-prune-'));
    await mkdir(path.join(home, 'bundles'));
    for (const [i, name] of names.entries()) {
      const dir = await assembleRelease(home, name, {
        scenario: 'hello-web',
        services: [{ name: 'web', port: 18000 + i, start: 'node server.js' }],
      });
      await writeFile(path.join(dir, '.setup-ok'), '');
      // r1 is the oldest, r6 the newest
      const when = new Date(Date.UTC(2026, 0, 1 + i));
      await utimes(path.join(dir, '.setup-ok'), when, when);
      await writeFile(path.join(home, 'bundles', `${name}.tar.gz`), 'bundle');
    }
    await writeFile(path.join(home, 'bundles', 'r9.tar.gz.part'), 'half');
    await mkdir(path.join(home, 'releases', 'r9.tmp'));
    // the current release is an old one (say, after a rollback by hand)
    await symlink(path.join('releases', 'r2'), path.join(home, 'current'));
  });

  after(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('keeps current, the caller and the newest N; removes the rest with their bundles', async () => {
    const result = resultOf(ok(await manage(home, 'r6', 'prune', '2')));
    expect(result.removed.sort()).to.deep.equal(['r1', 'r3']);
    expect(result.kept).to.equal(2);
    for (const name of ['r2', 'r4', 'r5', 'r6']) {
      expect(existsSync(path.join(home, 'releases', name)), name).to.equal(true);
      expect(existsSync(path.join(home, 'bundles', `${name}.tar.gz`)), name).to.equal(true);
    }
    for (const name of ['r1', 'r3']) {
      expect(existsSync(path.join(home, 'releases', name)), name).to.equal(false);
      expect(existsSync(path.join(home, 'bundles', `${name}.tar.gz`)), name).to.equal(false);
    }
    expect(existsSync(path.join(home, 'bundles', 'r9.tar.gz.part'))).to.equal(false);
    expect(existsSync(path.join(home, 'releases', 'r9.tmp'))).to.equal(false);
  });

  it('rejects a keep that is not a number', async () => {
    const r = await manage(home, 'r6', 'prune', 'all');
    expect(r.code).to.equal(2);
  });
});
