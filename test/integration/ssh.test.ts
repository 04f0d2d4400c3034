/** The pipeline over SSH against a real OpenSSH server on loopback, and its failure cases. */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { cp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { copyExample } from '../helpers/scenario-dir.js';
import { startRemoteHost, type RemoteHost } from '../helpers/remote-host.js';
import { requireBinary, SSHD_BINARY } from '../helpers/sshd.js';

describe('pipeline over SSH (real sshd)', function () {
  this.timeout(180_000);
  let h: Harness;
  let api: ApiClient;
  let host: RemoteHost;
  let scenarios: string;

  before(async function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
    scenarios = await copyExample('hello-web');
    host = await startRemoteHost();
    h = await createHarness('redis', { SCENARIOS_DIR: scenarios });
    h.startWorkers();
    api = await serve(h.app);
  });

  after(async () => {
    await api?.close();
    await h?.close();
    await host?.close();
    await rm(scenarios ?? '/nonexistent', { recursive: true, force: true });
  });

  async function create(
    name: string,
    target: Record<string, unknown> = {},
    scenarioPath = 'examples/hello-web',
  ) {
    const port = await freePort();
    const manifest = buildManifest({
      scenario: { path: scenarioPath },
      ports: { web: port },
      health: { timeout_s: 20 },
      target: host.target(name, target) as never,
    });
    const res = await api.call('POST', '/api/v1/deployments', { manifest });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return { id: res.body.deployment.id as string, port };
  }

  async function run(id: string, action = 'execute') {
    expect((await api.call('POST', `/api/v1/deployments/${id}/${action}`, {})).status).to.equal(
      202,
    );
    return api.waitFor(id, ['deployed', 'failed', 'stopped'], 120_000);
  }

  it('deploys over SSH, trusts the host key on first use, and a re-run uploads nothing', async () => {
    const { id, port } = await create('app');
    const d = await run(id);
    expect(d.status, d.error_message).to.equal('deployed');
    expect(d.ssh_host_key).to.equal(host.sshd.hostKeyFingerprint);
    expect(d.setup_result.uploaded).to.equal(true);
    expect(d.setup_result.steps[0].id).to.equal('ssh_connect');
    // one worker process ran both stages: deploy took over setup's connection (SSH_REUSE_SECONDS)
    expect(d.deploy_result.steps[0].id).to.equal('ssh_connect');
    expect(d.deploy_result.steps[0].output_tail).to.match(/reused this run's connection/);
    expect(d.setup_result.preflight.checks.every((c: { ok: boolean }) => c.ok)).to.equal(true);
    expect(d.deploy_result.checks).to.deep.include({
      services_running: true,
      ports_accessible: true,
    });
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).to.equal(200);

    const again = await run(id);
    expect(again.status).to.equal('deployed');
    expect(again.setup_result.uploaded).to.equal(false);
    expect(again.setup_result.skipped).to.equal(true);

    const inspect = await api.call('POST', `/api/v1/deployments/${id}/inspect?wait=30`);
    expect(inspect.body.result.services[0]).to.include({ name: 'web', running: true });
    await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
    expect((await api.waitFor(id, ['stopped'])).status).to.equal('stopped');
    await fetch(`http://127.0.0.1:${port}/health`).then(
      () => expect.fail('still answering after stop'),
      () => undefined,
    );
  });

  it('re-deploy of an unchanged rebuilt bundle uploads nothing', async () => {
    const { id } = await create('rebuild');
    expect((await run(id)).status).to.equal('deployed');
    await api.call('POST', `/api/v1/deployments/${id}/redeploy`, { force_rebuild: true });
    const d = await api.waitFor(id, ['deployed', 'failed'], 120_000);
    expect(d.status, d.error_message).to.equal('deployed');
    expect(d.setup_result.uploaded).to.equal(false);
  });

  const failures: [string, () => Record<string, unknown>, string][] = [
    ['a wrong host key', () => ({ host_key: `SHA256:${'A'.repeat(43)}` }), 'host_key_mismatch'],
    ['a wrong client key', () => ({ key_path: host.sshd.wrongKeyPath }), 'ssh_auth_failed'],
  ];
  for (const [what, target, code] of failures) {
    it(`ends failed at ssh_connect with ${code} for ${what}`, async () => {
      const { id } = await create(`bad-${code}`, target());
      const d = await run(id);
      expect(d.status).to.equal('failed');
      expect(d.error_step).to.equal('ssh_connect');
      expect(d.error_code).to.equal(code);
    });
  }

  it('ends failed with ssh_unreachable for a closed port (after retries, no hang)', async () => {
    const { id } = await create('closed', { port: await freePort() });
    const d = await run(id);
    expect(d).to.include({
      status: 'failed',
      error_step: 'ssh_connect',
      error_code: 'ssh_unreachable',
    });
  });

  it('refuses a changed host key after trusting the first one', async () => {
    const { id } = await create('tofu');
    expect((await run(id)).status).to.equal('deployed');
    await h
      .db('deployments')
      .where({ id })
      .update({ ssh_host_key: `SHA256:${'B'.repeat(43)}` });
    const d = await run(id);
    expect(d).to.include({
      status: 'failed',
      error_step: 'ssh_connect',
      error_code: 'host_key_mismatch',
    });
  });

  it('ends failed with ssh_connection_lost when sshd dies mid-upload', async () => {
    const big = path.join(scenarios, 'examples/big');
    await cp(path.join(scenarios, 'examples/hello-web'), big, { recursive: true });
    await writeFile(path.join(big, 'blob.bin'), randomBytes(80 * 1024 * 1024));
    const { id } = await create('upload', {}, 'examples/big');
    await api.call('POST', `/api/v1/deployments/${id}/execute`, {});
    const bundles = path.join(host.dir, 'upload', 'bundles');
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (existsSync(bundles) && readdirSync(bundles).some((f) => f.endsWith('.part'))) {
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await host.sshd.killAll();
    const d = await api.waitFor(id, ['failed', 'deployed'], 90_000);
    expect(d.status).to.equal('failed');
    expect(d.error_step).to.equal('transfer');
    expect(d.error_code).to.equal('ssh_connection_lost');
    await host.restartSshd();
  });
});
