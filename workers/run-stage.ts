/**
 * Runs one stage job: claim the run's lease, work under it (heartbeat, time limit, cancel),
 * then end the stage in one fenced write that also makes the next job due (outbox).
 */
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { TransientStepError } from '../shared/errors.js';
import { isInfraError } from '../shared/infra.js';
import type { Manifest } from '../shared/manifest.js';
import { PAYLOADS } from '../shared/queues.js';
import { findDeployment, type DeploymentRow } from '../shared/repositories/deployments.js';
import { releaseSlots } from '../shared/repositories/host-slots.js';
import { claimStage, endStage, type StageEnd } from '../shared/repositories/leases.js';
import type { Failure } from '../shared/repositories/runs.js';
import { deleteOutboxJob } from '../shared/repositories/outbox.js';
import { NO_ERROR, stageJob } from '../shared/repositories/run-write.js';
import type { Stage } from '../shared/runs.js';
import type { ActiveStages } from './active-stages.js';
import type { StageContext } from './context.js';
import { describeFailure } from './failure.js';
import { untilInfraBack } from './infra-wait.js';
import { StageAborted, StageLease } from './lease.js';
import { STAGE_DEFS, stageTimeoutMs } from './pipeline.js';
import { StageRecorder } from './recorder.js';
import { doWork } from './stage-work.js';

const ACTOR = 'worker';
const BACKOFF_MS = 2000;

/** The processor of a stage job (build, setup, deploy, stop). */
export async function runStage(
  stage: Stage,
  ctx: StageContext,
  job: Job,
  active: ActiveStages,
): Promise<unknown> {
  const def = STAGE_DEFS[stage];
  const { deploymentId, runId, gen } = PAYLOADS[stage].parse(job.data);
  const token = randomUUID();
  const leaseMs = ctx.config.RUN_LEASE_SECONDS * 1000;
  const claim = await untilInfraBack(ctx, () =>
    claimStage(ctx.db, {
      id: deploymentId,
      runId,
      stage,
      gen,
      token,
      leaseMs,
      from: def.from,
      running: def.running,
      maxAttempts: ctx.config.STAGE_MAX_ATTEMPTS,
      actor: ACTOR,
    }),
  );
  if (claim.kind !== 'claimed') {
    return { skipped: claim.kind };
  }
  const d = claim.row;
  const at = { deployment: deploymentId, run: runId, stage };
  ctx.logger.info({ ...at, attempt: claim.attempt, took_over: claim.tookOver }, 'stage started');
  const lease = new StageLease(ctx, deploymentId, token, leaseMs);
  lease.start(stageTimeoutMs(stage, d.manifest as unknown as Manifest, ctx.config));
  const leave = active.add(lease);
  const rec = new StageRecorder(ctx, stage, deploymentId, runId, def.percents, lease);
  try {
    let output: Record<string, unknown>;
    try {
      output = await doWork(stage, ctx, d, rec, lease);
      lease.check();
    } catch (err) {
      return await endAfterError(ctx, stage, d, rec, lease, err);
    }
    await finish(ctx, stage, d, lease, successEnd(stage, rec, output), ACTOR);
    ctx.logger.info(at, 'stage finished');
    return output;
  } finally {
    lease.stop();
    leave();
    await rec.flush().catch(() => undefined);
    await releaseSlots(ctx.db, token).catch(() => undefined);
  }
}

/** What success means for the stage: the next stage's job, or the run's end. */
function successEnd(stage: Stage, rec: StageRecorder, output: Record<string, unknown>): StageEnd {
  const def = STAGE_DEFS[stage];
  const patch: Record<string, unknown> = {};
  if (def.resultColumn) {
    patch[def.resultColumn] = rec.result(null, output);
  }
  const message = `${stage} complete`;
  if (def.next) {
    const progress = { stage: def.next, step: 'queued', percent: def.done ? 35 : 10 };
    return {
      kind: 'next',
      stage: def.next,
      to: def.done,
      patch: { ...patch, ...NO_ERROR, progress },
      message,
    };
  }
  const deployed = def.done === 'deployed';
  const extra = deployed ? { last_deployed_at: new Date(), ...NO_ERROR } : {};
  const progress = deployed ? { stage, step: 'done', percent: 100 } : null;
  return {
    kind: 'done',
    to: def.done ?? 'deployed',
    patch: { ...patch, ...extra, progress },
    message,
  };
}

/** Turns an error (or an abort) into the stage's end; a real failure also fails the job. */
async function endAfterError(
  ctx: StageContext,
  stage: Stage,
  d: DeploymentRow,
  rec: StageRecorder,
  lease: StageLease,
  err: unknown,
): Promise<unknown> {
  const reason = lease.reason ?? (err instanceof StageAborted ? err.reason : undefined);
  if (reason === 'lease_lost') {
    ctx.logger.warn({ deployment: d.id, stage }, 'lost the lease: stage stopped, nothing written');
    return { lost: true };
  }
  const step = rec.currentStep ?? stage;
  const { resultColumn } = STAGE_DEFS[stage];
  const failed = (failure: Failure): StageEnd => ({
    kind: 'failed',
    failure,
    resultColumn,
    result: rec.result(failure),
  });
  let end: StageEnd;
  let actor = ACTOR;
  if (reason === 'shutdown') {
    end = {
      kind: 'requeue',
      countAttempt: false,
      delayMs: 0,
      message: `handed back at worker shutdown (during ${step})`,
    };
  } else if (reason === 'cancelled') {
    actor = (await findDeployment(ctx.db, d.id))?.cancel_actor ?? 'api';
    end = failed({ step, code: 'cancelled', message: `cancelled by ${actor} during ${step}` });
  } else if (reason === 'timeout') {
    const limit = stageTimeoutMs(stage, d.manifest as unknown as Manifest, ctx.config) / 1000;
    end = failed({
      step,
      code: 'timeout',
      message: `${stage} exceeded its time limit of ${limit} s during ${step}`,
    });
  } else if (isInfraError(err)) {
    end = {
      kind: 'requeue',
      countAttempt: false,
      delayMs: 0,
      message: `stagecoach's database or queue was unavailable during ${step}`,
    };
  } else if (
    err instanceof TransientStepError &&
    d.stage_attempts + 1 < ctx.config.STAGE_MAX_ATTEMPTS
  ) {
    const delayMs = BACKOFF_MS * 2 ** d.stage_attempts;
    end = {
      kind: 'requeue',
      countAttempt: true,
      delayMs,
      message: `${err.step}: ${err.code}; retrying in ${delayMs / 1000} s`,
    };
  } else {
    const described = describeFailure(err, stage);
    end = failed({ ...described, message: rec.redact(described.message) });
  }
  await finish(ctx, stage, d, lease, end, actor);
  const detail = end.kind === 'failed' ? end.failure : { requeued: end.message };
  ctx.logger.warn(
    { deployment: d.id, run: d.run_id, stage, ...detail },
    `stage ended: ${end.kind}`,
  );
  if (end.kind === 'failed') {
    throw new UnrecoverableError(
      `${end.failure.step}: ${end.failure.code}: ${end.failure.message}`,
    );
  }
  return { requeued: end.message };
}

/**
 * Writes the stage's end under the lease (waiting out an outage), then enqueues the job it made
 * due at once; the outbox row committed with it stays the guarantee if this process dies first.
 */
async function finish(
  ctx: StageContext,
  stage: Stage,
  d: DeploymentRow,
  lease: StageLease,
  end: StageEnd,
  actor: string,
): Promise<void> {
  // no renewals race the end: the write below clears the lease it would renew
  lease.stop();
  const row = await untilInfraBack(ctx, () =>
    endStage(ctx.db, d.id, lease.token, stage, end, actor),
  );
  if (!row) {
    ctx.logger.warn(
      { deployment: d.id, stage },
      'lost the lease before the stage ended: nothing written',
    );
    return;
  }
  if (ctx.config.STAGECOACH_TEST_FAULT === `crash_after_commit:${stage}`) {
    // test-only fault hook: die between the commit and the enqueue of the next job
    process.exit(137);
  }
  if (row.run_kind !== null && row.run_stage !== null) {
    const delayMs = end.kind === 'requeue' ? end.delayMs : 0;
    const job = stageJob(row, row.run_stage, row.stage_gen, delayMs);
    await ctx.queues
      .addRaw(job.job_name, job.payload, job.job_id, delayMs)
      .then(() => deleteOutboxJob(ctx.db, job.job_id))
      .catch(() => ctx.relay?.kick());
  }
  if (end.kind === 'done' && end.to === 'deployed') {
    await ctx.queues
      .add('inspect', { deploymentId: d.id, runId: d.run_id }, `${d.run_id}-inspect`)
      .catch((err: unknown) =>
        ctx.logger.warn({ err }, 'could not enqueue the inspect after deploy'),
      );
  }
}
