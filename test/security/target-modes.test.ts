/**
 * Finding 3 of the security review: what stagecoach writes on a target that holds a secret
 * (the bundle and the release's config/app.env, resource passwords and URLs) is readable by
 * the deploying user only: files 0600, their directories 0700. Before, the bundle uploaded over
 * SFTP was 0644 and the extracted release world-readable.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { lstat, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildManifest, buildScenario, writeScenarioDir } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { startRemoteHost, type RemoteHost } from '../helpers/remote-host.js';
import { requireBinary, SSHD_BINARY } from '../helpers/sshd.js';

interface Entry {
  rel: string;
  mode: number;
  dir: boolean;
}

/** Every file and directory below `root` (symlinks not followed), with its permission bits. */
async function walk(root: string, rel = ''): Promise<Entry[]> {
  const out: Entry[] = [];
  for (const name of await readdir(path.join(root, rel))) {
    const child = path.join(rel, name);
    const st = await lstat(path.join(root, child));
    if (st.isDirectory()) {
      out.push({ rel: child, mode: st.mode & 0o777, dir: true }, ...(await walk(root, child)));
    } else if (st.isFile()) {
      out.push({ rel: child, mode: st.mode & 0o777, dir: false });
    }
  }
  return out;
}

const shown = (e: Entry): string => `${e.rel} (${e.mode.toString(8)})`;
/** Readable by the group or by others. */
const open = (e: Entry): boolean => (e.mode & 0o044) !== 0;

/** Checks a deployed workdir: nothing that holds a secret can be read by other users. */
async function expectPrivate(workdir: string, secrets: string[]): Promise<void> {
  const entries = await walk(workdir);
  const secretFiles = entries.filter(
    (e) =>
      !e.dir &&
      (/^bundles\/[0-9a-f]{64}\.tar\.gz$/.test(e.rel) ||
        /^releases\/[0-9a-f]{64}\/config\//.test(e.rel) ||
        e.rel.startsWith('state/resources/')),
  );
  expect(secretFiles.some((e) => e.rel.endsWith('config/app.env'))).to.equal(true);
  expect(secretFiles.some((e) => e.rel.startsWith('bundles/'))).to.equal(true);
  expect(secretFiles.filter(open).map(shown), 'files readable by other users').to.deep.equal([]);
  const dirs = entries.filter((e) => e.dir && /^(bundles|releases(\/[0-9a-f]{64})?)$/.test(e.rel));
  expect(dirs.length).to.be.at.least(3);
  expect(dirs.filter((e) => e.mode !== 0o700).map(shown), 'directories not 0700').to.deep.equal([]);
  // and no file another user could read holds one of the secrets, wherever it is
  for (const e of entries.filter((x) => !x.dir && open(x))) {
    const text = await readFile(path.join(workdir, e.rel), 'latin1');
    for (const secret of secrets) {
      expect(text.includes(secret), `${shown(e)} holds a secret`).to.equal(false);
    }
  }
}

/** The resource passwords the target generated. */
async function resourcePasswords(workdir: string): Promise<string[]> {
  return Promise.all(
    ['postgres', 'redis'].map(async (kind) =>
      (await readFile(path.join(workdir, 'state/resources', kind, 'password'), 'utf8')).trim(),
    ),
  );
}

describe('security: files on the target that hold secrets are private', function () {
  this.timeout(240_000);
  let h: Harness;
  let api: ApiClient;
  let host: RemoteHost;
  const scenarios = path.join(os.tmpdir(), `stagecoach-modes-${process.pid}`);

  before(async function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
    await writeScenarioDir(scenarios, {
      relPath: 'with-resources',
      scenario: buildScenario({ resources: ['postgres', 'redis'] }),
    });
    host = await startRemoteHost();
    h = await createHarness('redis', { SCENARIOS_DIR: scenarios });
    h.startWorkers();
    api = await serve(h.app);
  });

  after(async () => {
    await api?.close();
    await h?.close();
    await host?.close();
    await rm(scenarios, { recursive: true, force: true });
  });

  async function deploy(target: Record<string, unknown>, secret: string): Promise<void> {
    const manifest = buildManifest({
      scenario: { path: 'with-resources' },
      ports: { web: await freePort() },
      env: { APP_SECRET: secret },
      health: { timeout_s: 30 },
      target: target as never,
    });
    const res = await api.call('POST', '/api/v1/deployments', { manifest, execute: true });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const d = await api.waitFor(res.body.deployment.id, ['deployed', 'failed'], 180_000);
    expect(d.status, d.error_message).to.equal('deployed');
  }

  it('over SSH: bundle, release config and resource files are 0600 in 0700 directories', async () => {
    const secret = `ssh-secret-${randomBytes(8).toString('hex')}`;
    await deploy(host.target('modes'), secret);
    const workdir = path.join(host.dir, 'modes');
    await expectPrivate(workdir, [secret, ...(await resourcePasswords(workdir))]);
  });

  it('on a local target: the same', async () => {
    const secret = `local-secret-${randomBytes(8).toString('hex')}`;
    await deploy({ type: 'local', workdir: 'targets/modes' }, secret);
    const workdir = path.join(h.dataDir, 'targets', 'modes');
    await expectPrivate(workdir, [secret, ...(await resourcePasswords(workdir))]);
  });
});
