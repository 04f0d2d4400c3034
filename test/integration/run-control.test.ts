/**
 * Cancel, stage timeouts and the per-host limit, as a user drives them through the API, on a
 * local target and over a real sshd.
 */
import { spawnSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { buildManifest, buildScenario, writeScenarioDir } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { expectValidHistory } from '../helpers/history.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { startRemoteHost, type RemoteHost } from '../helpers/remote-host.js';
import { requireBinary, SSHD_BINARY } from '../helpers/sshd.js';

/** True while a process whose command line contains `needle` runs. */
const running = (needle: string) => spawnSync('pgrep', ['-f', needle]).status === 0;

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('run control: cancel, timeouts, host limit', function () {
  this.timeout(120_000);
  let h: Harness;
  let api: ApiClient;
  let host: RemoteHost | undefined;
  const scenarios = path.join(os.tmpdir(), `stagecoach-rc-${process.pid}`);
  const marks = path.join(scenarios, 'marks.log');

  before(async () => {
    // `sleep N` with a number unique to each case, so a leftover process is found by name
    const slow = (n: number) =>
      buildScenario({
        services: [{ name: 'web', build: `sleep ${n}`, start: 'node server.js', port: 'web' }],
      });
    await writeScenarioDir(scenarios, { relPath: 'slow1', scenario: slow(100121) });
    await writeScenarioDir(scenarios, { relPath: 'slow2', scenario: slow(100122) });
    await writeScenarioDir(scenarios, { relPath: 'slow3', scenario: slow(100123) });
    const marked = `sh -c 'echo start >> ${marks}; sleep 1; echo end >> ${marks}'`;
    await writeScenarioDir(scenarios, {
      relPath: 'marked',
      scenario: buildScenario({
        services: [{ name: 'web', build: marked, start: 'node server.js', port: 'web' }],
      }),
    });
    h = await createHarness('redis', { SCENARIOS_DIR: scenarios, HOST_CONCURRENCY: '1' });
    h.startWorkers();
    api = await serve(h.app);
  });

  after(async () => {
    await api?.close();
    await h?.close();
    await host?.close();
    await rm(scenarios, { recursive: true, force: true });
  });

  async function create(scenario: string, target: Record<string, unknown>, extra = {}) {
    const manifest = buildManifest({
      scenario: { path: scenario },
      ports: { web: await freePort() },
      target: target as never,
      ...extra,
    });
    const res = await api.call('POST', '/api/v1/deployments', { manifest });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body.deployment.id as string;
  }

  const get = async (id: string) =>
    (await api.call('GET', `/api/v1/deployments/${id}`)).body.deployment;

  async function cancelDuringBuild(id: string, needle: string) {
    expect((await api.call('POST', `/api/v1/deployments/${id}/execute`, {})).status).to.equal(202);
    let last: unknown;
    await until(
      `the build step (last seen: ${JSON.stringify(last)})`,
      async () => {
        last = await get(id);
        return (last as { progress?: { step: string } }).progress?.step === 'build' &&
          running(needle)
          ? true
          : undefined;
        // over SSH the setup before the build takes a while on a busy host
      },
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(last)}`);
    });
    const asked = Date.now();
    const res = await api.call('POST', `/api/v1/deployments/${id}/cancel`, {});
    expect(res.status, JSON.stringify(res.body)).to.equal(202);
    expect(res.body.run_id).to.be.a('string');
    const d = await api.waitFor(id, ['failed'], 10_000);
    expect(Date.now() - asked).to.be.below(10_000);
    expect(d).to.include({ error_code: 'cancelled', error_step: 'build', run_active: false });
    expect(running(needle), `${needle} still runs`).to.equal(false);
    const events = (await api.call('GET', `/api/v1/deployments/${id}/history`)).body.events;
    expectValidHistory(events);
    expect(events.find((e: { kind: string }) => e.kind === 'cancel_requested')).to.include({
      actor: 'api',
    });
  }

  it('answers 409 invalid_state to a cancel with no run, and cancels a queued run at once', async () => {
    // a stagecoach of its own with no workers: the build job only waits in its queue
    const idle = await createHarness('redis', { SCENARIOS_DIR: scenarios });
    const idleApi = await serve(idle.app);
    try {
      const manifest = buildManifest({
        scenario: { path: 'slow1' },
        target: { type: 'local', workdir: 'targets/queued' },
      });
      const id = (await idleApi.call('POST', '/api/v1/deployments', { manifest })).body.deployment
        .id;
      const none = await idleApi.call('POST', `/api/v1/deployments/${id}/cancel`, {});
      expect(none.status).to.equal(409);
      expect(none.body.error.code).to.equal('invalid_state');
      await idleApi.call('POST', `/api/v1/deployments/${id}/execute`, {});
      const res = await idleApi.call('POST', `/api/v1/deployments/${id}/cancel`, {});
      expect(res.status).to.equal(202);
      expect(res.body.deployment).to.include({ status: 'failed', error_code: 'cancelled' });
      expect(res.body.deployment.error_step).to.equal('queued');
      idle.startWorkers();
      // the dropped job finds its run over and does nothing
      await new Promise((r) => setTimeout(r, 1000));
      const d = (await idleApi.call('GET', `/api/v1/deployments/${id}`)).body.deployment;
      expect(d).to.include({ status: 'failed', run_active: false, error_code: 'cancelled' });
    } finally {
      await idleApi.close();
      await idle.close();
    }
  });

  it('cancels a long build step on a local target and kills its process group', async () => {
    const id = await create('slow1', { type: 'local', workdir: 'targets/cancel' });
    await cancelDuringBuild(id, 'sleep 100121');
  });

  it('ends a stage that runs past its time limit as timeout, killing the command', async () => {
    const id = await create(
      'slow2',
      { type: 'local', workdir: 'targets/timeout' },
      { timeouts: { deploy_s: 3 } },
    );
    await api.call('POST', `/api/v1/deployments/${id}/execute`, {});
    const d = await api.waitFor(id, ['failed', 'deployed'], 20_000);
    expect(d).to.include({ status: 'failed', error_code: 'timeout', error_step: 'build' });
    expect(d.error_message).to.contain('time limit of 3 s');
    expect(d.deploy_result.error.code).to.equal('timeout');
    expect(running('sleep 100122')).to.equal(false);
  });

  it('runs one mutating stage at a time per host; the other waits visibly', async () => {
    const a = await create('marked', { type: 'local', workdir: 'targets/host-a' });
    const b = await create('marked', { type: 'local', workdir: 'targets/host-b' });
    await api.call('POST', `/api/v1/deployments/${a}/execute`, {});
    await api.call('POST', `/api/v1/deployments/${b}/execute`, {});
    await until('a stage waiting for the host', async () => {
      const steps = [(await get(a)).progress?.step, (await get(b)).progress?.step];
      return steps.includes('waiting_for_host') ? true : undefined;
    });
    expect((await api.waitFor(a, ['deployed', 'failed'])).status).to.equal('deployed');
    expect((await api.waitFor(b, ['deployed', 'failed'])).status).to.equal('deployed');
    const lines = (await readFile(marks, 'utf8')).trim().split('\n');
    expect(lines, 'the two builds never overlapped').to.deep.equal([
      'start',
      'end',
      'start',
      'end',
    ]);
  });

  it('cancels a long build step over SSH and kills the remote process group', async function () {
    requireBinary(SSHD_BINARY, 'openssh-server', this);
    host = await startRemoteHost();
    const id = await create('slow3', host.target('cancel-ssh'), { health: { timeout_s: 20 } });
    await cancelDuringBuild(id, 'sleep 100123');
  });
});
