/** Processors of the actions outside the pipeline: inspect and stop. */
import type { Job } from 'bullmq';
import { PAYLOADS } from '../shared/queues.js';
import { findDeployment, patchDeployment, transition } from '../shared/repositories/deployments.js';
import type { StageContext } from './context.js';
import { describeFailure } from './failure.js';
import { StageRecorder } from './recorder.js';
import { connectStepId, isFinalAttempt } from './run-stage.js';
import { runInspect } from './stages/inspect.js';
import { runStop } from './stages/stop.js';

/** Inspect: reads the target and stores the result; the status never changes. */
export async function runInspectJob(ctx: StageContext, job: Job): Promise<unknown> {
  const { deploymentId } = PAYLOADS.inspect.parse(job.data);
  const d = await findDeployment(ctx.db, deploymentId);
  if (!d) {
    return { ok: false, error: 'deployment not found' };
  }
  const t = await ctx.openTransport(d);
  try {
    const result = await runInspect(d, t);
    await patchDeployment(ctx.db, deploymentId, null, {
      inspect_result: result,
      last_inspected_at: new Date(),
    });
    return result;
  } finally {
    await t.close();
  }
}

/** Stop: stops services (and resources when asked), then `stopped`. */
export async function runStopJob(ctx: StageContext, job: Job): Promise<unknown> {
  const { deploymentId, runId, stopResources } = PAYLOADS.stop.parse(job.data);
  const d = await findDeployment(ctx.db, deploymentId);
  if (!d || d.run_id !== runId) {
    return { stale: true };
  }
  const rec = new StageRecorder(ctx, 'stop', deploymentId, runId);
  try {
    const t = await rec.step(connectStepId(d), 'Connect to the target', () => ctx.openTransport(d));
    let output: Record<string, unknown>;
    try {
      output = await runStop(t, rec, stopResources);
    } finally {
      await t.close();
    }
    const moved = await transition(ctx.db, {
      id: deploymentId,
      from: ['deployed', 'failed', 'stopped'],
      to: 'stopped',
      runId,
      stage: 'stop',
      message: stopResources ? 'stopped services and resources' : 'stopped services',
      actor: 'worker',
      patch: { stop_result: rec.result(null, output), progress: null },
    });
    return moved ? output : { stale: true };
  } catch (err) {
    if (isFinalAttempt(job, err)) {
      const failure = describeFailure(err, 'stop');
      // a failed stop leaves the status as it was; the error says what broke
      await patchDeployment(ctx.db, deploymentId, runId, {
        stop_result: rec.result(failure),
        error_step: failure.step,
        error_code: failure.code,
        error_message: failure.message,
      });
    }
    throw err;
  }
}
