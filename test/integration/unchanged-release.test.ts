/**
 * An unchanged release is not restarted: re-deploying (or re-executing) the release that serves,
 * healthy, leaves its processes as they are (same supervisor, same service pid) and records
 * start/promote as skipped with deploy_result.unchanged. A service that was killed (restarted by
 * its supervisor, or gone with it), force_rebuild, or a stopped deployment get the full start.
 * Local targets and a real sshd.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildManifest } from '../factories.js';
import { useDeploySuite } from '../helpers/deploy-suite.js';
import { expectValidHistory } from '../helpers/history.js';
import { freePort } from '../helpers/ports.js';
import { requireBinary, SSHD_BINARY } from '../helpers/sshd.js';
import { childrenOf, httpStatusOf, pollUntil } from '../helpers/supervision.js';

type Step = { id: string; ok: boolean; skipped?: boolean; output_tail: string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Deployment = any;

describe('re-deploying the release that serves', function () {
  this.timeout(240_000);
  const suite = useDeploySuite();

  async function create(target: Record<string, unknown>): Promise<{ id: string; port: number }> {
    const port = await freePort();
    const manifest = buildManifest({ target: target as never, ports: { web: port } });
    const res = await suite.api.call('POST', '/api/v1/deployments', { manifest });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    suite.track(res.body.deployment.id as string);
    return { id: res.body.deployment.id as string, port };
  }

  async function act(id: string, action: string, body = {}): Promise<Deployment> {
    const res = await suite.api.call('POST', `/api/v1/deployments/${id}/${action}`, body);
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    const d = await suite.api.waitFor(id, ['deployed', 'failed'], 120_000);
    expect(d.status, `${action}: ${d.error_step}: ${d.error_message}`).to.equal('deployed');
    return d;
  }

  const stepOf = (d: Deployment, id: string): Step | undefined =>
    (d.deploy_result.steps as Step[]).find((s) => s.id === id);

  /** The supervisor's pid (state/run/web.pid) and its one child, the service. */
  async function processes(workdir: string): Promise<{ supervisor: number; service: number }> {
    const supervisor = Number(
      (await readFile(path.join(workdir, 'state', 'run', 'web.pid'), 'utf8')).trim(),
    );
    const service = await pollUntil('the service under its supervisor', 10_000, () =>
      childrenOf(supervisor).at(0),
    );
    return { supervisor, service };
  }

  function expectUnchanged(d: Deployment): void {
    expect(d.deploy_result.unchanged, d.deploy_result.restart_reason).to.equal(true);
    expect(d.deploy_result.restart_reason).to.equal(null);
    const sha12 = (d.bundle.sha256 as string).slice(0, 12);
    for (const id of ['start_services', 'promote']) {
      expect(stepOf(d, id), id).to.deep.include({
        skipped: true,
        output_tail: `release ${sha12} already serving and healthy`,
      });
    }
    expect(stepOf(d, 'health_check')).to.include({ ok: true });
    expect(stepOf(d, 'health_check')?.skipped).to.equal(undefined);
    expect(d.deploy_result.checks).to.deep.include({
      services_running: true,
      ports_accessible: true,
    });
    expect(d.deploy_result.services[0]).to.include({ name: 'web', record: 'web' });
  }

  function expectRestarted(d: Deployment, reason: RegExp): void {
    expect(d.deploy_result.unchanged).to.equal(false);
    expect(d.deploy_result.restart_reason).to.match(reason);
    expect(stepOf(d, 'start_services')?.skipped).to.equal(undefined);
    expect(stepOf(d, 'promote')?.skipped).to.equal(undefined);
  }

  it('local: keeps the serving release running; kill, force_rebuild and stop restart it', async () => {
    const { id, port } = await create({ type: 'local', workdir: 'targets/unchanged' });
    const workdir = path.join(suite.h.dataDir, 'targets', 'unchanged');
    const first = await act(id, 'execute');
    expectRestarted(first, /first/);
    const before = await processes(workdir);

    // (a) re-deploy and re-execute of the same bundle: the same processes go on serving
    const redeployed = await act(id, 'redeploy');
    expectUnchanged(redeployed);
    expect(redeployed.deploy_result.services[0].pid).to.equal(before.supervisor);
    const reexecuted = await act(id, 'execute');
    expectUnchanged(reexecuted);
    expect(await processes(workdir)).to.deep.equal(before);
    expect(await httpStatusOf(port)).to.equal(200);
    const history = (await suite.api.call('GET', `/api/v1/deployments/${id}/history`)).body.events;
    expectValidHistory(history);
    const statuses = history
      .filter((e: { kind: string }) => e.kind === 'status')
      .map((e: { to_status: string }) => e.to_status);
    // the first execute's five, then the re-deploy straight to deploying and back
    expect(statuses.slice(0, 7)).to.deep.equal([
      'pending',
      'setup_running',
      'setup_complete',
      'deploying',
      'deployed',
      'deploying',
      'deployed',
    ]);
    expect(statuses.at(-1)).to.equal('deployed');

    // (b) the service killed: its supervisor restarted it, which a deploy does not paper over
    process.kill(before.service, 'SIGKILL');
    // (the supervisor's restart delay is 1 s; a `sleep` is its child meanwhile)
    await pollUntil('the restarted service answering', 20_000, async () =>
      (await httpStatusOf(port)) === 200 ? true : undefined,
    );
    const afterKill = await act(id, 'redeploy');
    expectRestarted(afterKill, /restarted by its supervisor/);
    const restarted = await processes(workdir);
    expect(restarted.supervisor).to.not.equal(before.supervisor);
    expect(await httpStatusOf(port)).to.equal(200);

    // (b) supervisor and service gone
    process.kill(-restarted.supervisor, 'SIGKILL');
    await pollUntil('the process group gone', 10_000, () =>
      childrenOf(restarted.supervisor).length === 0 ? true : undefined,
    );
    const afterGone = await act(id, 'redeploy');
    expectRestarted(afterGone, /is gone/);
    const third = await processes(workdir);
    expect(third.supervisor).to.not.equal(restarted.supervisor);

    // (c) force_rebuild restarts the unchanged release on purpose
    const forced = await act(id, 'redeploy', { force_rebuild: true });
    expectRestarted(forced, /force_rebuild/);
    expect(forced.bundle.sha256).to.equal(first.bundle.sha256);
    expect((await processes(workdir)).supervisor).to.not.equal(third.supervisor);

    // a stopped deployment: its release still is `current`, nothing runs
    await suite.api.call('POST', `/api/v1/deployments/${id}/stop`, {});
    await suite.api.waitFor(id, ['stopped']);
    expectRestarted(await act(id, 'redeploy'), /is stopped/);
    expect(await httpStatusOf(port)).to.equal(200);
  });

  it('over SSH: a re-execute of the serving release leaves it running', async function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
    const host = await suite.remoteHost();
    const { id, port } = await create(host.target('unchanged'));
    const workdir = path.join(host.dir, 'unchanged');
    expectRestarted(await act(id, 'execute'), /first/);
    const before = await processes(workdir);
    const again = await act(id, 'execute');
    expectUnchanged(again);
    expect(again.setup_result.skipped).to.equal(true);
    expect(await processes(workdir)).to.deep.equal(before);
    process.kill(-before.supervisor, 'SIGKILL');
    await pollUntil('the process group gone', 10_000, () =>
      childrenOf(before.supervisor).length === 0 ? true : undefined,
    );
    expectRestarted(await act(id, 'execute'), /is gone/);
    expect(await httpStatusOf(port)).to.equal(200);
  });
});
