import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, readlink, stat, symlink } from 'node:fs/promises';
import path from 'node:path';
import { buildBundle, type BuiltBundle } from '../../../shared/bundle/build.js';
import { BundleError } from '../../../shared/bundle/errors.js';
import { removeTempDir, writeFiles } from '../../factories.js';
import { createFixture, listTar, requireBinary, run, type Fixture } from './helpers.js';

const LONG_NAME = `deep/${'d'.repeat(60)}/${'e'.repeat(60)}/file-with-a-long-name.txt`;

async function fixture(): Promise<Fixture> {
  return createFixture({
    manifest: { ports: { web: 18080, postgres: 15432 }, env: { TOKEN: 's3cret' } },
    scenario: {
      name: 'hello-web',
      services: [{ name: 'web', start: 'node server.js', port: 'web' }],
      resources: ['postgres'],
    },
    files: {
      'bin/run': { content: '#!/bin/sh\necho hi\n', mode: 0o755 },
      'lib/util.js': 'module.exports = 1;\n',
      'assets/big.bin': randomBytes(3 * 1024 * 1024 + 17),
      [LONG_NAME]: 'long\n',
      'docs/naïve café.md': 'unicode name\n',
      'lib/link-to-util': { symlink: 'util.js' },
      'node_modules/dep/index.js': 'skipped\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      'lib/node_modules/x.js': 'skipped too\n',
    },
  });
}

async function buildOf(fx: Fixture): Promise<BuiltBundle> {
  const { manifest, scenariosDir, scriptsDir, cacheDir } = fx;
  return buildBundle({ manifest, scenariosDir, scriptsDir, cacheDir });
}

describe('buildBundle: bundle layout', () => {
  let fx: Fixture;
  let built: BuiltBundle;

  before(async () => {
    fx = await fixture();
    built = await buildOf(fx);
  });
  after(() => removeTempDir(fx.root));

  it('has the contract layout, sorted, with fixed modes and owners', async () => {
    const members = await listTar(built.path);
    const rows = members.map((m) => `${m.type} ${m.mode.toString(8)} ${m.name}`);
    expect(rows).to.deep.equal([
      'directory 755 config/',
      'file 600 config/app.env',
      'file 644 config/deployment.json',
      'directory 755 config/resources/',
      'file 644 config/resources/postgres.conf',
      'directory 755 config/services/',
      'file 644 config/services/web.env',
      'file 644 config/stagecoach.env',
      'directory 755 config/systemd/',
      'file 644 config/systemd/stagecoach-hello-web-web@.service',
      'directory 755 config/systemd/stagecoach-hello-web-web@.service.d/',
      'file 644 config/systemd/stagecoach-hello-web-web@.service.d/restart-backoff.conf',
      'file 644 config/systemd/stagecoach-hello-web_postgres@.service',
      'directory 755 config/systemd/stagecoach-hello-web_postgres@.service.d/',
      'file 644 config/systemd/stagecoach-hello-web_postgres@.service.d/restart-backoff.conf',
      'directory 755 lib/',
      'file 644 lib/common.sh',
      'file 755 manage.sh',
      'directory 755 scenario/',
      'directory 755 scenario/assets/',
      'file 644 scenario/assets/big.bin',
      'directory 755 scenario/bin/',
      'file 755 scenario/bin/run',
      'directory 755 scenario/deep/',
      `directory 755 scenario/${path.dirname(path.dirname(LONG_NAME))}/`,
      `directory 755 scenario/${path.dirname(LONG_NAME)}/`,
      `file 644 scenario/${LONG_NAME}`,
      'directory 755 scenario/docs/',
      'file 644 scenario/docs/naïve café.md',
      'directory 755 scenario/lib/',
      'symlink 777 scenario/lib/link-to-util',
      'file 644 scenario/lib/util.js',
      'file 644 scenario/scenario.json',
      'file 644 scenario/server.js',
      'file 755 setup.sh',
      'file 755 supervise.sh',
    ]);
    for (const m of members) {
      expect([m.uid, m.gid, m.uname, m.gname], m.name).to.deep.equal([0, 0, '', '']);
      expect(m.mtime.toISOString(), m.name).to.equal('2000-01-01T00:00:00.000Z');
    }
    expect(members.find((m) => m.name === 'scenario/lib/link-to-util')!.linkname).to.equal(
      'util.js',
    );
    const appEnv = members.find((m) => m.name === 'config/app.env')!;
    expect(appEnv.content.toString()).to.equal('TOKEN=s3cret\n');
  });

  it('shows app.env as 0600 and root-owned to the system tar', async function () {
    requireBinary(this, 'tar', 'tar');
    const listing = await run('tar', ['-tzvf', built.path]);
    const line = listing.split('\n').find((l) => l.endsWith(' config/app.env'));
    expect(line).to.match(/^-rw------- 0\/0 /);
    expect(listing).to.match(/^-rwxr-xr-x 0\/0 .* manage\.sh$/m);
  });

  it('writes a gzip header without mtime or file name', async () => {
    const head = (await readFile(built.path)).subarray(0, 10);
    expect([...head]).to.deep.equal([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  });

  it('extracts with the system tar to the scenario files, byte for byte', async function () {
    requireBinary(this, 'tar', 'tar');
    const out = path.join(fx.root, 'extracted');
    await mkdir(out);
    await run('tar', ['-xzf', built.path, '-C', out]);
    for (const rel of [
      'scenario.json',
      'server.js',
      'bin/run',
      'lib/util.js',
      'assets/big.bin',
      LONG_NAME,
      'docs/naïve café.md',
    ]) {
      const [src, dst] = [path.join(fx.scenarioDir, rel), path.join(out, 'scenario', rel)];
      expect((await readFile(dst)).equals(await readFile(src)), rel).to.equal(true);
      expect((await stat(dst)).mode & 0o111, rel).to.equal((await stat(src)).mode & 0o111);
    }
    expect(await readlink(path.join(out, 'scenario/lib/link-to-util'))).to.equal('util.js');
    expect((await lstat(path.join(out, 'config/app.env'))).mode & 0o777).to.equal(0o600);
    expect((await stat(path.join(out, 'manage.sh'))).mode & 0o777).to.equal(0o755);
    expect((await stat(path.join(out, 'lib/common.sh'))).mode & 0o777).to.equal(0o644);
    for (const skipped of ['scenario/node_modules', 'scenario/.git', 'scenario/lib/node_modules']) {
      const code = await stat(path.join(out, skipped)).then(
        () => 'exists',
        (err: NodeJS.ErrnoException) => err.code,
      );
      expect(code, skipped).to.equal('ENOENT');
    }
  });
});

describe('buildBundle: symlinks', () => {
  let fx: Fixture;
  beforeEach(async () => {
    fx = await createFixture();
  });
  afterEach(() => removeTempDir(fx.root));

  const codeOf = (p: Promise<unknown>): Promise<string | undefined> =>
    p.then(
      () => undefined,
      (err: unknown) => (err instanceof BundleError ? err.code : String(err)),
    );

  it('rejects a symlink that points outside the scenario', async () => {
    await writeFiles(fx.root, { 'secret.txt': 'outside\n' });
    await symlink(path.join(fx.root, 'secret.txt'), path.join(fx.scenarioDir, 'leak'));
    expect(await codeOf(buildOf(fx))).to.equal('scenario_path_escape');
  });

  it('rejects a relative symlink climbing out with ..', async () => {
    await symlink('../../../scripts/manage.sh', path.join(fx.scenarioDir, 'leak'));
    expect(await codeOf(buildOf(fx))).to.equal('scenario_path_escape');
  });

  it('rejects an inside symlink chained to an outside one', async () => {
    await symlink(fx.root, path.join(fx.scenarioDir, 'a'));
    await mkdir(path.join(fx.scenarioDir, 'sub'));
    await symlink('../a', path.join(fx.scenarioDir, 'sub', 'b'));
    expect(await codeOf(buildOf(fx))).to.equal('scenario_path_escape');
  });

  it('rewrites an absolute symlink inside the scenario to a relative one', async () => {
    await mkdir(path.join(fx.scenarioDir, 'sub'));
    await symlink(path.join(fx.scenarioDir, 'server.js'), path.join(fx.scenarioDir, 'sub', 'abs'));
    const members = await listTar((await buildOf(fx)).path);
    expect(members.find((m) => m.name === 'scenario/sub/abs')!.linkname).to.equal('../server.js');
  });

  it('rejects a dangling symlink as scenario_invalid', async () => {
    await symlink('missing.js', path.join(fx.scenarioDir, 'dangling'));
    expect(await codeOf(buildOf(fx))).to.equal('scenario_invalid');
  });
});
