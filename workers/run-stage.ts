/** Runs one pipeline stage for a job: status in, work, status out, next job; or `failed`. */
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { PAYLOADS, stageJobId } from '../shared/queues.js';
import {
  findDeployment,
  transition,
  type DeploymentRow,
} from '../shared/repositories/deployments.js';
import type { Transport } from '../shared/transports/types.js';
import type { StageContext } from './context.js';
import { describeFailure, failRun } from './failure.js';
import { PIPELINE, type PipelineStage } from './pipeline.js';
import { StageRecorder } from './recorder.js';
import { runBuild } from './stages/build.js';
import { runDeploy } from './stages/deploy.js';
import { runSetup } from './stages/setup.js';

const ACTOR = 'worker';

/** `ssh_connect` for SSH targets, `connect` for local ones. */
export function connectStepId(d: DeploymentRow): string {
  return (d.manifest.target as { type: string }).type === 'ssh' ? 'ssh_connect' : 'connect';
}

/** True when this attempt is the job's last (or the error says retrying cannot help). */
export function isFinalAttempt(job: Job, err: unknown): boolean {
  return err instanceof UnrecoverableError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
}

async function work(
  stage: PipelineStage,
  ctx: StageContext,
  d: DeploymentRow,
  job: Job,
  rec: StageRecorder,
): Promise<Record<string, unknown>> {
  if (stage === 'build') {
    return runBuild(ctx, d, PAYLOADS.build.parse(job.data), rec);
  }
  let t: Transport | undefined;
  try {
    t = await rec.step(connectStepId(d), 'Connect to the target', () => ctx.openTransport(d));
    return stage === 'setup' ? await runSetup(ctx, d, t, rec) : await runDeploy(ctx, d, t, rec);
  } finally {
    await t?.close();
  }
}

/** The processor of a pipeline stage. */
export async function runStage(
  stage: PipelineStage,
  ctx: StageContext,
  job: Job,
): Promise<unknown> {
  const def = PIPELINE[stage];
  const { deploymentId, runId } = PAYLOADS[stage].parse(job.data);
  const found = await findDeployment(ctx.db, deploymentId);
  if (!found || found.run_id !== runId || !def.from.includes(found.status)) {
    // superseded by a newer run, deleted, or already past this stage: nothing to do
    return { stale: true, status: found?.status ?? null };
  }
  const d = await transition(ctx.db, {
    id: deploymentId,
    from: def.from,
    to: def.running,
    runId,
    stage,
    message: `${stage} started`,
    actor: ACTOR,
  });
  if (!d) {
    return { stale: true };
  }
  const rec = new StageRecorder(ctx, stage, deploymentId, runId, def.percents);
  let output: Record<string, unknown>;
  try {
    output = await work(stage, ctx, d, job, rec);
  } catch (err) {
    if (isFinalAttempt(job, err)) {
      const failure = describeFailure(err, stage);
      const result = rec.result(failure);
      await failRun(ctx, {
        deploymentId,
        runId,
        stage,
        failure,
        resultColumn: def.resultColumn,
        result,
        actor: ACTOR,
      });
    }
    throw err;
  }
  if (def.done && def.resultColumn) {
    const patch = {
      [def.resultColumn]: rec.result(null, output),
      error_step: null,
      error_code: null,
      error_message: null,
      progress: { stage, step: 'done', percent: def.done === 'deployed' ? 100 : 35 },
      ...(def.done === 'deployed' ? { last_deployed_at: new Date() } : {}),
    };
    const moved = await transition(ctx.db, {
      id: deploymentId,
      from: [def.running],
      to: def.done,
      runId,
      stage,
      message: `${stage} complete`,
      actor: ACTOR,
      patch,
    });
    if (!moved) {
      return { stale: true };
    }
  }
  if (def.next) {
    await ctx.queues.add(def.next, { deploymentId, runId }, stageJobId(runId, def.next));
  }
  return output;
}
