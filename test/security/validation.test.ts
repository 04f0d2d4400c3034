/**
 * Issue 7, finding 11: what the API accepts must not fail later for its shape. The remote
 * workdir `/.` (and `/`, system directories), an edge email with a quote and a local workdir with
 * a newline are refused at create with the path in details.issues; the target applies the same
 * workdir and email rules (preflight.sh, lib/system-dirs.sh, lib/common.sh, lib/edge.sh).
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { shellEnvFile } from '../../shared/shell.js';
import { systemDirReason } from '../../shared/system-dirs.js';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';
import {
  assembleRelease,
  cleanUp,
  lastLine,
  manage,
  ROOT,
  run,
} from '../helpers/target-release.js';

const SYSTEM_DIRS_SH = path.join(ROOT, 'scripts/target/lib/system-dirs.sh');
const PREFLIGHT_SH = path.join(ROOT, 'scripts/target/preflight.sh');

type Issue = { path: string; message: string };

const REFUSED_REMOTE = [
  '/',
  '/.',
  '//',
  '/./',
  '/etc',
  '/etc/stagecoach',
  '/usr/local/app',
  '/proc/1',
  '/sys/x',
  '/dev/shm/x',
  '/boot',
  '/var',
  '/var/lib',
  '/var/lib/',
  '/tmp',
  '/home',
  '/./usr/../etc',
];
const ACCEPTED_REMOTE = [
  '/srv/app',
  '/var/lib/stagecoach',
  '/home/deploy/app',
  '/tmp/app',
  '~',
  '~/x',
  'apps',
];
const ACCEPTED_EMAILS = [
  'ops@example.com',
  'a.b+c_d-e@sub.example.co',
  'UPPER@EXAMPLE.MUSEUM',
  '0@x-y.example.org',
];
const REFUSED_EMAILS = [
  "o'brien@example.com",
  'a b@example.com',
  'a"b@example.com',
  'a{b}@example.com',
  'a#b@example.com',
  'a\\b@example.com',
];
const REFUSED_LOCAL = [
  'targets/a\nb',
  'targets/a\tb',
  'targets/a\rb',
  'targets/a b',
  "targets/a'b",
  'targets/$(id)',
  'targets/a;b',
];

describe('security: validation gaps (API)', function () {
  this.timeout(180_000);
  let h: Harness;
  let api: ApiClient;
  let scenarios: string;
  let n = 0;
  const ids: string[] = [];

  before(async () => {
    scenarios = await copyExample('hello-web');
    h = await createHarness('postgres', { SCENARIOS_DIR: scenarios });
    api = await serve(h.app);
  });

  after(async () => {
    for (const id of ids) {
      await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await api.waitFor(id, ['stopped', 'failed'], 30_000).catch(() => undefined);
    }
    await api?.close();
    await h?.close();
    await rm(scenarios ?? '/nonexistent', { recursive: true, force: true });
  });

  const post = (overrides: Record<string, unknown>) =>
    api.call('POST', '/api/v1/deployments', { manifest: buildManifest(overrides) });

  /** The issues of a 422 invalid_manifest answer. */
  function issuesOf(res: {
    status: number;
    body: { error: { code: string; details: { issues: Issue[] } } };
  }): Issue[] {
    expect(res.status, JSON.stringify(res.body)).to.equal(422);
    expect(res.body.error.code).to.equal('invalid_manifest');
    return res.body.error.details.issues;
  }

  const ssh = (workdir: string) => ({
    target: { type: 'ssh', host: '203.0.113.10', user: 'deploy', workdir },
  });

  for (const workdir of REFUSED_REMOTE) {
    it(`answers 422 at target.workdir to the remote workdir ${JSON.stringify(workdir)}`, async () => {
      const issues = issuesOf(await post(ssh(workdir)));
      expect(issues.map((i) => i.path)).to.deep.equal(['target.workdir']);
      expect(issues[0].message).to.match(
        /system directory|may not be in \/|may not contain "\.\."/,
      );
    });
  }

  it('accepts remote workdirs of their own', async () => {
    for (const workdir of ACCEPTED_REMOTE) {
      const res = await post(ssh(workdir));
      expect(res.status, `${workdir}: ${JSON.stringify(res.body)}`).to.equal(201);
    }
  });

  for (const email of REFUSED_EMAILS) {
    it(`answers 422 at edge.email to ${JSON.stringify(email)}`, async () => {
      const issues = issuesOf(
        await post({
          target: { type: 'local', workdir: `targets/e${++n}` },
          edge: { domain: 'app.example.com', tls: 'acme', email },
        }),
      );
      expect(issues.map((i) => i.path)).to.deep.equal(['edge.email']);
    });
  }

  for (const workdir of REFUSED_LOCAL) {
    it(`answers 422 at target.workdir to the local workdir ${JSON.stringify(workdir)}`, async () => {
      const issues = issuesOf(await post({ target: { type: 'local', workdir } }));
      expect(issues.map((i) => i.path)).to.deep.equal(['target.workdir']);
    });
  }

  it('deploys to an accepted local workdir with every allowed kind of character', async () => {
    h.startWorkers();
    const port = await freePort();
    const res = await api.call('POST', '/api/v1/deployments', {
      execute: true,
      manifest: buildManifest({
        target: { type: 'local', workdir: './targets/A.b_c-1/x/' },
        ports: { web: port },
        health: { timeout_s: 30 },
      }),
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    ids.push(res.body.deployment.id);
    const d = await api.waitFor(res.body.deployment.id, ['deployed', 'failed'], 150_000);
    expect(d.status, d.error_message).to.equal('deployed');
  });
});

describe('security: the target applies the same rules', function () {
  this.timeout(60_000);
  let tmp: string;
  let home: string | undefined;

  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-rules-'));
    home = path.join(tmp, 'home');
    await assembleRelease(home, 'r1', {
      scenario: 'hello-web',
      services: [{ name: 'web', port: await freePort(), start: 'node server.js' }],
    });
  });

  after(async () => {
    await cleanUp(home, new Set());
    await rm(tmp, { recursive: true, force: true });
  });

  it('system_dir_reason (lib/system-dirs.sh) refuses exactly what shared/system-dirs.ts refuses', async () => {
    const paths = [
      ...REFUSED_REMOTE.map((p) => path.posix.normalize(p).replace(/(.)\/+$/, '$1')),
      ...[
        '/srv/app',
        '/var/lib/stagecoach',
        '/home/deploy',
        '/root',
        '/tmp/x',
        '/usrx',
        '/etcetera',
      ],
      ...['/opt/app', '/mnt/data/x', '/bin2', '/run2/x'],
    ];
    const script =
      'source "$1"; shift; for p in "$@"; do if system_dir_reason "$p" >/dev/null; then echo "$p"; fi; done';
    const r = await run('bash', ['-c', script, '_', SYSTEM_DIRS_SH, ...paths]);
    expect(r.code, r.stderr).to.equal(0);
    const refused = r.stdout.split('\n').filter(Boolean);
    expect(refused).to.deep.equal(paths.filter((p) => systemDirReason(p) !== undefined));
    expect(refused.length).to.be.greaterThan(5);
  });

  it('one system_dir_reason serves manage.sh and preflight.sh (no second copy to drift)', () => {
    const dir = path.join(ROOT, 'scripts/target');
    const files = [
      PREFLIGHT_SH,
      path.join(dir, 'manage.sh'),
      path.join(dir, 'setup.sh'),
      ...readdirSync(path.join(dir, 'lib')).map((f) => path.join(dir, 'lib', f)),
    ];
    const defining = files.filter((f) => readFileSync(f, 'utf8').includes('system_dir_reason() {'));
    expect(defining).to.deep.equal([SYSTEM_DIRS_SH]);
    expect(readFileSync(PREFLIGHT_SH, 'utf8')).to.contain('lib/system-dirs.sh');
  });

  /** Runs preflight.sh for `workdir` the way the worker does (no edge). */
  const preflight = (workdir: string) =>
    run('bash', ['-c', `exec bash "$0" "$@"`, PREFLIGHT_SH, workdir, '1', '1', '-', '-', '0']);

  for (const workdir of ['/', '/etc', '/usr/share', '/var/lib', '/tmp', '/proc/self']) {
    it(`preflight refuses the workdir ${workdir} (exit 1, check workdir)`, async () => {
      const r = await preflight(workdir);
      expect(r.code, r.stdout + r.stderr).to.equal(1);
      expect(lastLine(r.stderr)).to.match(
        /^preflight check workdir failed: .*(system directory|is in \/)/,
      );
    });
  }

  it('preflight refuses a workdir that is a symlink to a system directory, and accepts its own', async () => {
    await symlink('/etc', path.join(tmp, 'link'));
    const bad = await preflight(path.join(tmp, 'link'));
    expect(bad.code).to.equal(1);
    expect(lastLine(bad.stderr)).to.contain('/etc is in /etc');
    const good = await preflight(path.join(tmp, 'own'));
    expect(good.stdout).to.match(/^preflight workdir: ok/m);
  });

  it('manage.sh refuses STAGECOACH_HOME=/ or a symlink into /usr (exit 2)', async () => {
    await symlink('/usr', path.join(tmp, 'usr-link'));
    for (const bad of ['/', '/.', path.join(tmp, 'usr-link')]) {
      const r = await run('./manage.sh', ['status'], {
        cwd: path.join(home!, 'releases', 'r1'),
        env: { ...process.env, STAGECOACH_HOME: bad },
      });
      expect(r.code, `${bad}: ${r.stdout}${r.stderr}`).to.equal(2);
      expect(lastLine(r.stderr)).to.match(/^STAGECOACH_HOME: .*(system directory|is in \/usr)/);
    }
  });

  it('every email the API accepts passes the target check (manage.sh status with an edge)', async () => {
    for (const email of ACCEPTED_EMAILS) {
      await writeFile(
        path.join(home!, 'releases', 'r1', 'config', 'edge.env'),
        shellEnvFile({
          EDGE_DOMAIN: 'app.example.com',
          EDGE_TLS: 'acme',
          EDGE_EMAIL: email,
          EDGE_HTTP_PORT: String(await freePort()),
          EDGE_HTTPS_PORT: String(await freePort()),
          EDGE_SERVICE: 'web',
        }),
      );
      const r = await manage(home!, 'r1', 'status');
      expect(r.stderr, email).not.to.contain('EDGE_EMAIL');
      expect(r.code, `${email}: ${r.stderr}`).to.equal(0);
    }
  });
});
