/**
 * Crash recovery: every in-progress run must have a live job. A run whose job is missing
 * (crash between commit and enqueue) gets it enqueued again; a run whose job ended failed
 * without the deployment being marked (worker killed, stalled too often) is marked failed.
 */
import type { Job } from 'bullmq';
import { stageJobId, QUEUE_OF } from '../shared/queues.js';
import type { DeploymentRow } from '../shared/repositories/deployments.js';
import type { StageContext } from './context.js';
import { failRun } from './failure.js';
import { FAILABLE, PIPELINE, stageForStatus } from './pipeline.js';

const LIVE = new Set(['active', 'waiting', 'delayed', 'prioritized', 'waiting-children']);

/** Deployments with a run in progress that have not moved for `quietMs`. */
async function quietRuns(ctx: StageContext, quietMs: number): Promise<DeploymentRow[]> {
  return ctx
    .db('deployments')
    .whereNull('deleted_at')
    .whereNotNull('run_id')
    .whereIn('status', FAILABLE)
    .andWhere('updated_at', '<', new Date(Date.now() - quietMs))
    .limit(100);
}

/** Checks each quiet run once; returns what it did, for logs and tests. */
export async function reconcile(
  ctx: StageContext,
  quietMs = 60_000,
): Promise<{ requeued: string[]; failed: string[] }> {
  const out = { requeued: [] as string[], failed: [] as string[] };
  for (const d of await quietRuns(ctx, quietMs)) {
    const stage = stageForStatus(d.status);
    if (!stage || !d.run_id) {
      continue;
    }
    const id = stageJobId(d.run_id, stage);
    const job = (await ctx.queues.queue(QUEUE_OF[stage]).getJob(id)) as Job | undefined;
    const state = job ? await job.getState() : 'missing';
    if (LIVE.has(state)) {
      continue;
    }
    if (state === 'missing') {
      await ctx.queues.add(stage, { deploymentId: d.id, runId: d.run_id }, id);
      out.requeued.push(d.id);
      continue;
    }
    const reason =
      job?.failedReason || `the ${stage} job ended (${state}) without finishing the run`;
    const failed = await failRun(ctx, {
      deploymentId: d.id,
      runId: d.run_id,
      stage,
      failure: { step: d.progress?.step ?? stage, code: 'worker_lost', message: reason },
      resultColumn: PIPELINE[stage].resultColumn,
      actor: 'reconciler',
    });
    if (failed) {
      out.failed.push(d.id);
    }
  }
  return out;
}
