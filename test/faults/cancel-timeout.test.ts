/** Cancel and stage time limits kill the step's processes; queued stages are not "lost". */
import { expect } from 'chai';
import { startCluster, type Cluster } from './cluster.js';
import { eventsOf, expectSettled } from './invariants.js';
import { expectSleepGone, holderOfSleep } from './probes.js';
import { until } from './procs.js';
import { manifestFor, sleepArg, writeScenario } from './scenarios.js';

describe('faults: cancel and stage timeouts (redis queues)', function () {
  this.timeout(120_000);
  let c: Cluster;

  before(async () => {
    c = await startCluster({ backend: 'redis', workers: 2 });
  });
  after(async () => {
    await c?.close();
  });

  it('cancel during a long build step: failed/cancelled within 10 s, the sleep is gone', async () => {
    const arg = sleepArg(100_000);
    const scenario = await writeScenario(c.scenariosDir, 'cancel-me', { build: `sleep ${arg}` });
    const { id, runId } = await c.api.create(await manifestFor(scenario));
    await holderOfSleep(c, arg, 40_000);
    const asked = Date.now();
    const r = await c.api.call('POST', `/deployments/${id}/cancel`, {});
    expect(r.status, JSON.stringify(r.body)).to.equal(202);
    const d = await c.api.waitFor(id, ['failed'], 10_000);
    console.log(`      cancelled in ${Date.now() - asked} ms`);
    expect(d).to.include({ error_code: 'cancelled', error_step: 'build' });
    await expectSleepGone(arg);
    await expectSettled(c, [id], 'failed');
    const events = await c.api.history(id);
    expect(eventsOf(events, 'cancel_requested', runId).length, 'cancel_requested').to.equal(1);
    const again = await c.api.call('POST', `/deployments/${id}/cancel`, {});
    expect([again.status, again.body?.error?.code]).to.deep.equal([409, 'invalid_state']);
  });

  it('a build step over the manifest deploy_s limit: failed/timeout, the sleep is gone', async () => {
    const arg = sleepArg(100_000);
    const scenario = await writeScenario(c.scenariosDir, 'too-slow', { build: `sleep ${arg}` });
    const manifest = await manifestFor(scenario, { timeouts: { deploy_s: 5 } });
    const { id } = await c.api.create(manifest);
    await until(
      async () => (await c.api.get(id))?.status === 'deploying',
      60_000,
      () => `deploy never started\n${c.logs()}`,
      50,
    );
    const deployStarted = Date.now();
    const d = await c.api.waitFor(id, ['failed'], 15_000);
    console.log(`      timed out ${Date.now() - deployStarted} ms after the deploy stage began`);
    expect(d).to.include({ error_code: 'timeout' });
    await expectSleepGone(arg);
    await expectSettled(c, [id], 'failed');
  });

  it('cancel without an active run answers 409 invalid_state', async () => {
    const { id } = await c.api.create(await manifestFor(), false);
    const r = await c.api.call('POST', `/deployments/${id}/cancel`, {});
    expect([r.status, r.body?.error?.code]).to.deep.equal([409, 'invalid_state']);
  });
});

describe('faults: stages queued behind busy workers longer than the lease', function () {
  this.timeout(120_000);
  let c: Cluster;

  before(async () => {
    const env = {
      WORKER_CONCURRENCY: '1',
      RUN_LEASE_SECONDS: '2',
      RECONCILE_INTERVAL_SECONDS: '1',
    };
    c = await startCluster({ backend: 'redis', workers: 1, env });
  });
  after(async () => {
    await c?.close();
  });

  it('are not failed: three slow deployments on one worker all end deployed', async () => {
    const scenario = await writeScenario(c.scenariosDir, 'queued', { build: 'sleep 3' });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await c.api.create(await manifestFor(scenario))).id);
    }
    for (const id of ids) {
      const d = await c.api.waitFor(id, ['deployed', 'failed'], 60_000);
      expect(d, JSON.stringify(d)).to.include({ status: 'deployed', error_code: null });
    }
    await expectSettled(c, ids);
    for (const id of ids) {
      const failed = (await c.api.history(id)).filter((e) => e.to_status === 'failed');
      expect(failed, `no failure in the history of ${id}`).to.deep.equal([]);
    }
  });
});
