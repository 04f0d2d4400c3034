/**
 * First run as root in a private directory (a clone in /root, a `mktemp -d`): the postgres user
 * cannot reach the data dir, so the embedded cluster lives under /var/lib/stagecoach. `npm run
 * dev` must come up, deploy, stop cleanly, come back with its data, and keep the cluster private.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { RELOCATED_ROOT, relocatedHome } from '../../shared/embedded-pg-dir.js';
import { buildManifest } from '../factories.js';
import { stopTargetsUnder } from '../helpers/cleanup.js';
import { startDev, type DevProcess } from '../helpers/dev-process.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';

/** Every path under `dir` whose mode gives anything to others (group/other bits). */
async function openToOthers(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir(dir)) {
    const p = path.join(dir, name);
    const st = await lstat(p);
    if (!st.isSymbolicLink() && st.mode & 0o007) {
      found.push(`${p} ${(st.mode & 0o777).toString(8)}`);
    }
    if (st.isDirectory()) {
      found.push(...(await openToOthers(p)));
    }
  }
  return found;
}

describe('npm run dev as root in a 0700 directory (first run)', function () {
  this.timeout(240_000);
  let tree: string;
  let data: string;
  let home: string;
  let env: Record<string, string>;
  let dev: DevProcess | undefined;
  let id: string;
  let webPort: number;
  const logFile = path.join('/tmp', `stagecoach-first-run-${process.pid}.log`);

  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${dev!.url}/api/v1${p}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };
  const waitFor = async (statuses: string[], ms = 90_000) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const d = (await call('GET', `/deployments/${id}`)).body.deployment;
      if (statuses.includes(d.status) && !d.run_active) {
        return d;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${id} never reached ${statuses}`);
  };
  /** The JSON lines the dev process wrote so far (stdout is a pipe: JSON, not pretty). */
  const logLines = async () =>
    (await readFile(logFile, 'utf8'))
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const stopDev = async () => {
    dev!.child.kill('SIGINT');
    expect(await dev!.exited, 'a clean stop exits 0').to.equal(0);
    dev = undefined;
  };

  before(async function () {
    if (process.getuid?.() !== 0) {
      console.log('    (skipped: the postgres-user case only exists when running as root)');
      this.skip();
    }
    tree = await copyExample('hello-web'); // mkdtemp: 0700, like /root or `mktemp -d`
    expect((await stat(tree)).mode & 0o777).to.equal(0o700);
    data = path.join(tree, '.data');
    home = relocatedHome(path.join(await realpath(tree), '.data'));
    await rm(home, { recursive: true, force: true });
    await rm(logFile, { force: true });
    env = {
      STAGECOACH_DATA_DIR: data,
      SCENARIOS_DIR: tree,
      PORT: String(await freePort()),
      EMBEDDED_PG_PORT: String(await freePort()),
    };
  });

  after(async () => {
    if (dev) {
      dev.child.kill('SIGKILL');
      await dev.exited;
    }
    if (tree) {
      stopTargetsUnder(path.join(data, 'targets'));
      await rm(tree, { recursive: true, force: true });
      await rm(home, { recursive: true, force: true });
    }
  });

  it('comes up, says where the cluster lives and which URLs to open, and deploys hello-web', async () => {
    dev = await startDev(env, logFile);
    const lines = await logLines();
    const moved = lines.find((l) => String(l.msg).includes('cluster lives in'));
    expect(moved, 'a log line names the cluster dir').to.include({ dir: path.join(home, 'pg') });
    const up = lines.find((l) => String(l.msg).startsWith('stagecoach is up'));
    const base = `http://127.0.0.1:${env.PORT}`;
    expect(up).to.include({
      dashboard: `${base}/`,
      api: `${base}/api/v1`,
      board: `${base}/admin/queues`,
    });
    expect(up!.msg).to.contain(`${base}/admin/queues`);

    webPort = await freePort();
    const manifest = buildManifest({
      ports: { web: webPort },
      target: { type: 'local', workdir: 'targets/hello' },
    });
    const created = await call('POST', '/deployments', { manifest, execute: true });
    expect(created.status).to.equal(201);
    id = created.body.deployment.id;
    const d = await waitFor(['deployed', 'failed']);
    expect(d.status, d.error_message).to.equal('deployed');
    expect(await (await fetch(`http://127.0.0.1:${webPort}/`)).text()).to.contain('hello');
  });

  it('stops cleanly, and a second start on the same data dir finds the deployment', async () => {
    await stopDev();
    expect(existsSync(path.join(home, 'pg', 'postmaster.pid')), 'PostgreSQL stopped').to.equal(
      false,
    );
    dev = await startDev(env, logFile);
    expect((await call('GET', `/deployments/${id}`)).body.deployment.status).to.equal('deployed');
    await call('POST', `/deployments/${id}/stop`, {});
    expect((await waitFor(['stopped'])).status).to.equal('stopped');
    await stopDev();
  });

  it('keeps the cluster private: root-owned 0711 homes, a 0700 cluster owned by postgres', async () => {
    const pgUid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const modes = async (p: string) => {
      const st = await stat(p);
      return { path: p, mode: (st.mode & 0o777).toString(8), uid: st.uid };
    };
    expect(await modes(RELOCATED_ROOT)).to.deep.equal({
      path: RELOCATED_ROOT,
      mode: '711',
      uid: 0,
    });
    expect(await modes(home)).to.deep.equal({ path: home, mode: '711', uid: 0 });
    const pgDir = path.join(home, 'pg');
    expect(await modes(pgDir)).to.deep.equal({ path: pgDir, mode: '700', uid: pgUid });
    expect(await openToOthers(pgDir), 'nothing in the cluster is open to others').to.deep.equal([]);
    expect(await modes(path.join(home, 'data-dir'))).to.include({ mode: '600', uid: 0 });
    // the private tree stayed private, and holds no cluster of its own
    expect((await stat(tree)).mode & 0o777).to.equal(0o700);
    expect(existsSync(path.join(data, 'pg', 'PG_VERSION'))).to.equal(false);
  });
});
