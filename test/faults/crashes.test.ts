/** kill -9 of workers and of the API mid-run: every run still ends, and ends once. */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { expect } from 'chai';
import { startCluster, type Cluster } from './cluster.js';
import type { Reply } from './client.js';
import { eventsOf, expectSettled } from './invariants.js';
import { holderOfCommand, holderOfSleep, markerLines, workdirOf } from './probes.js';
import { isRunning, sleep, until } from './procs.js';
import { manifestFor, markedStart, sleepArg, writeScenario } from './scenarios.js';

describe('faults: crashes (redis queues)', function () {
  this.timeout(120_000);
  let c: Cluster;

  before(async () => {
    c = await startCluster({ backend: 'redis', workers: 2 });
  });
  after(async () => {
    await c?.close();
  });
  afterEach(async () => {
    // the next test starts with two healthy default workers
    await Promise.all(c.workers.map((w, i) => (isRunning(w) ? null : c.restartWorker(i))));
  });

  it('kill -9 of the worker running setup: another worker finishes the run', async () => {
    const marker = path.join(c.dataDir, 'started-setup-kill');
    const scenario = await writeScenario(c.scenariosDir, 'big-setup', {
      start: markedStart(marker),
      files: { 'blob.bin': randomBytes(120 * 1024 * 1024) }, // an extract of ~0.6 s
    });
    const manifest = await manifestFor(scenario);
    const { id } = await c.api.create(manifest);
    await until(
      async () => (await c.api.get(id))?.status === 'setup_running',
      60_000,
      () => `setup never started\n${c.logs()}`,
      20,
    );
    // extracting the big bundle: there is still work left in setup when the kill lands
    const victim = await holderOfCommand(c, workdirOf(manifest), 'tar');
    await c.kill(victim);
    expect((await c.api.get(id))?.status, 'the kill landed mid-setup').to.equal('setup_running');
    const d = await c.api.waitFor(id, ['deployed'], 60_000);
    expect(d.error_code).to.equal(null);
    expect(markerLines(marker), 'service starts').to.equal(1);
    await expectSettled(c, [id]);
  });

  it('kill -9 of the worker running a deploy step: another worker finishes the run', async () => {
    const marker = path.join(c.dataDir, 'started-deploy-kill');
    const arg = sleepArg(4);
    const scenario = await writeScenario(c.scenariosDir, 'slow-build', {
      build: `sleep ${arg}`,
      start: markedStart(marker),
    });
    const { id } = await c.api.create(await manifestFor(scenario));
    const victim = await holderOfSleep(c, arg, 40_000);
    await c.kill(victim);
    const at = await c.api.get(id);
    expect(at?.status, 'the kill landed mid-deploy').to.equal('deploying');
    const d = await c.api.waitFor(id, ['deployed'], 60_000);
    expect(d.error_code).to.equal(null);
    expect(markerLines(marker), 'service starts').to.equal(1);
    await expectSettled(c, [id]);
  });

  it('a worker dying right after committing setup: deploy still runs, exactly once', async () => {
    try {
      // build and setup only on the faulty worker; deploy only on the healthy one
      await Promise.all([
        c.restartWorker(0, {
          env: { STAGECOACH_TEST_FAULT: 'crash_after_commit:setup', WORKER_QUEUES: 'build,setup' },
        }),
        c.restartWorker(1, { env: { WORKER_QUEUES: 'deploy,inspect' } }),
      ]);
      const faulty = c.workers[0];
      const { id, runId } = await c.api.create(await manifestFor());
      const exit = await Promise.race([faulty.exited, sleep(30_000).then(() => 'still running')]);
      expect(exit, `the fault hook fired\n${c.logs()}`).to.deep.equal({ code: 137, signal: null });
      const d = await c.api.waitFor(id, ['deployed'], 60_000);
      expect(d.error_code).to.equal(null);
      await expectSettled(c, [id]);
      const events = await c.api.history(id);
      for (const stage of ['build', 'setup', 'deploy']) {
        const started = eventsOf(events, 'stage_started', runId).filter((e) => e.stage === stage);
        expect(started.length, `${stage} started: ${JSON.stringify(events)}`).to.equal(1);
      }
    } finally {
      await Promise.all([c.restartWorker(0), c.restartWorker(1)]);
    }
  });

  it('kill -9 of the API 0.25 s into a burst of 20 creates: every deployment ends deployed', async () => {
    const before = new Set(
      (await c.db('deployments').select('id')).map((r: { id: string }) => r.id),
    );
    const manifests = await Promise.all(Array.from({ length: 20 }, () => manifestFor()));
    const inflight = manifests.map((manifest) =>
      c.api.call('POST', '/deployments', { manifest, execute: true }).catch((e: Error) => e),
    );
    await sleep(250);
    // on a loaded machine 0.25 s may not see a commit yet: the kill must land mid-burst
    const count = async () => Number((await c.db('deployments').count('* as n'))[0].n);
    await until(
      async () => (await count()) > before.size,
      20_000,
      () => 'no create committed',
      5,
    );
    await c.kill(c.apiProc);
    const replies = await Promise.all(inflight);
    const created = replies.filter((r): r is Reply => !(r instanceof Error) && r.status === 201);
    await c.restartApi();
    const rows: { id: string }[] = await c.db('deployments').select('id');
    const fresh = rows.map((r) => r.id).filter((id) => !before.has(id));
    console.log(
      `      ${created.length} of 20 answered 201 before the kill; ${fresh.length} exist`,
    );
    expect(fresh.length, 'some creates committed before the kill').to.be.greaterThan(0);
    expect(fresh).to.include.members(created.map((r) => r.body.deployment.id as string));
    const deadline = Date.now() + 90_000;
    for (const id of fresh) {
      await c.api.waitFor(id, ['deployed'], Math.max(1_000, deadline - Date.now()));
    }
    await expectSettled(c, fresh);
  });
});
