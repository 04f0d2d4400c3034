/** Crash recovery: a run whose job was never enqueued, or ended without marking the run. */
import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import { expect } from 'chai';
import { buildManifest } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { stageJobId } from '../../shared/queues.js';
import { transition } from '../../shared/repositories/deployments.js';
import { reconcile } from '../../workers/reconcile.js';

describe('reconcile', function () {
  this.timeout(60_000);
  let h: Harness;
  let api: ApiClient;

  beforeEach(async () => {
    h = await createHarness('redis');
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

  it('enqueues the missing job of a run started just before a crash, and the run completes', async () => {
    const id = await createDeployment('targets/lost-enqueue');
    // what execute does before enqueueing: the status write, committed; then the process dies
    const runId = randomUUID();
    await transition(h.db, {
      id,
      from: ['pending'],
      to: 'pending',
      newRunId: runId,
      stage: 'build',
      message: 'execute',
      actor: 'api',
    });
    expect(await h.queues.queue('build').getJob(stageJobId(runId, 'build'))).to.equal(undefined);

    const first = await reconcile(h.ctx, 0);
    expect(first.requeued).to.deep.equal([id]);
    expect(await h.queues.queue('build').getJob(stageJobId(runId, 'build'))).to.not.equal(
      undefined,
    );
    expect(
      (await reconcile(h.ctx, 0)).requeued,
      'the job is live now: nothing more to do',
    ).to.deep.equal([]);

    h.startWorkers();
    const d = await api.waitFor(id, ['deployed', 'failed']);
    expect(d.status, d.error_message).to.equal('deployed');
    await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
    await api.waitFor(id, ['stopped']);
  });

  it('fails a run whose job ended failed without the deployment being marked', async () => {
    const id = await createDeployment('targets/lost-worker');
    const runId = randomUUID();
    await transition(h.db, {
      id,
      from: ['pending'],
      to: 'setup_running',
      newRunId: runId,
      stage: 'setup',
      message: 'setup started',
      actor: 'worker',
    });
    // a worker that dies with the job (no chance to mark the deployment), as after kill -9
    const rogue = h.queues.worker(
      'setup',
      async () => {
        throw new UnrecoverableError('worker process killed');
      },
      1,
    );
    const failed = new Promise((resolve) => rogue.on('failed', resolve));
    rogue.run().catch(() => undefined);
    await h.queues.add('setup', { deploymentId: id, runId }, stageJobId(runId, 'setup'));
    await failed;
    await rogue.close();

    expect((await reconcile(h.ctx, 0)).failed).to.deep.equal([id]);
    const d = (await api.call('GET', `/api/v1/deployments/${id}`)).body.deployment;
    expect(d.status).to.equal('failed');
    expect(d.error_code).to.equal('worker_lost');
    expect(d.error_message).to.contain('worker process killed');
    const events = (await api.call('GET', `/api/v1/deployments/${id}/history`)).body.events;
    expect(events.at(-1)).to.include({
      from_status: 'setup_running',
      to_status: 'failed',
      actor: 'reconciler',
    });
  });

  it('leaves alone runs that moved recently or are not in progress', async () => {
    const id = await createDeployment('targets/quiet');
    expect(await reconcile(h.ctx, 0)).to.deep.equal({ requeued: [], failed: [] });
    const runId = randomUUID();
    await transition(h.db, {
      id,
      from: ['pending'],
      to: 'pending',
      newRunId: runId,
      stage: 'build',
      message: 'execute',
      actor: 'api',
    });
    expect((await reconcile(h.ctx, 60_000)).requeued).to.deep.equal([]);
  });
});
