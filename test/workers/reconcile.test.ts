/**
 * Recovery by lease and outbox: a committed run whose job was never enqueued, a stage whose
 * worker vanished (expired lease), and a run that only waits in a queue.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { relayOutbox } from '../../shared/outbox-relay.js';
import { claimStage } from '../../shared/repositories/leases.js';
import { startRun } from '../../shared/repositories/runs.js';
import { stageJobId } from '../../shared/runs.js';
import { reconcile } from '../../workers/reconcile.js';

const execute = () => ({ to: 'pending' as const, stage: 'build' as const, message: 'execute' });

describe('reconcile', function () {
  this.timeout(60_000);
  let h: Harness;
  let api: ApiClient;

  beforeEach(async () => {
    h = await createHarness('redis', { RUN_LEASE_SECONDS: '1', STAGE_MAX_ATTEMPTS: '2' });
    api = await serve(h.app);
  });
  afterEach(async () => {
    await api.close();
    await h.close();
  });

  async function createDeployment(workdir: string): Promise<string> {
    const manifest = buildManifest({
      ports: { web: await freePort() },
      target: { type: 'local', workdir },
    });
    return (await api.call('POST', '/api/v1/deployments', { manifest })).body.deployment.id;
  }

  /** A worker that claimed the build stage and then died (its lease is never renewed). */
  async function claimAndDie(id: string, runId: string, gen: number) {
    const claim = await claimStage(h.db, {
      id,
      runId,
      stage: 'build',
      gen,
      token: randomUUID(),
      leaseMs: 300,
      from: ['pending'],
      running: 'pending',
      maxAttempts: 2,
      actor: 'test',
    });
    expect(claim.kind).to.equal('claimed');
  }

  it('relays a committed run whose enqueue never happened, once', async () => {
    const id = await createDeployment('targets/lost-enqueue');
    // what execute commits; the process then dies before relaying (no kick)
    const { runId, deployment } = await startRun(h.db, id, 'execute', 'test', execute);
    const jobId = stageJobId(runId, 'build', deployment.stage_gen);
    await relayOutbox(h.db, h.queues);
    expect(await h.queues.queue('build').getJob(jobId)).to.not.equal(undefined);
    expect(await relayOutbox(h.db, h.queues), 'the outbox is empty now').to.equal(0);
    expect(await h.queues.queue('build').getJobCounts('waiting')).to.deep.equal({ waiting: 1 });
    h.startWorkers();
    expect((await api.waitFor(id, ['deployed', 'failed'])).status).to.equal('deployed');
  });

  it('requeues a stage whose worker vanished, then the run completes', async () => {
    const id = await createDeployment('targets/lost-worker');
    const { runId, deployment } = await startRun(h.db, id, 'execute', 'test', execute);
    await claimAndDie(id, runId, deployment.stage_gen);
    await new Promise((r) => setTimeout(r, 400));
    const report = await reconcile(h.ctx);
    expect(report.requeued).to.deep.equal([id]);
    h.startWorkers();
    const d = await api.waitFor(id, ['deployed', 'failed']);
    expect(d.status).to.equal('deployed');
    expect(d.stage_attempts).to.equal(0);
    const events = (await api.call('GET', `/api/v1/deployments/${id}/history`)).body.events;
    expect(events.some((e: { kind: string }) => e.kind === 'stage_requeued')).to.equal(true);
  });

  it('fails the run as worker_lost once its attempts are spent', async () => {
    const id = await createDeployment('targets/lost-twice');
    const { runId, deployment } = await startRun(h.db, id, 'execute', 'test', execute);
    await claimAndDie(id, runId, deployment.stage_gen);
    await new Promise((r) => setTimeout(r, 400));
    expect((await reconcile(h.ctx)).requeued).to.deep.equal([id]);
    await claimAndDie(id, runId, deployment.stage_gen + 1);
    await new Promise((r) => setTimeout(r, 400));
    expect((await reconcile(h.ctx)).failed).to.deep.equal([id]);
    const d = (await api.call('GET', `/api/v1/deployments/${id}`)).body.deployment;
    expect(d).to.include({ status: 'failed', error_code: 'worker_lost', run_active: false });
    expect(d.error_step).to.equal('queued');
  });

  it('never fails a run that only waits in its queue', async () => {
    const id = await createDeployment('targets/waiting');
    await api.call('POST', `/api/v1/deployments/${id}/execute`, {});
    // no worker runs: the build job waits, longer than a lease
    await new Promise((r) => setTimeout(r, 1500));
    expect(await reconcile(h.ctx)).to.deep.equal({ requeued: [], failed: [] });
    const d = (await api.call('GET', `/api/v1/deployments/${id}`)).body.deployment;
    expect(d).to.include({ status: 'pending', run_active: true, run_kind: 'execute' });
    h.startWorkers();
    expect((await api.waitFor(id, ['deployed', 'failed'])).status).to.equal('deployed');
  });
});
