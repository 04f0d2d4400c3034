/** Builds the BullMQ workers of a process for the queues it consumes, and the reconciler. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Job, Worker } from 'bullmq';
import type { QueueName } from '../shared/queues.js';
import { ActiveStages } from './active-stages.js';
import type { StageContext } from './context.js';
import { HEALTH_WATCH_JOB, healthWatchTick, scheduleHealthWatch } from './health-watch.js';
import { startHousekeeping } from './housekeeping.js';
import { reconcile } from './reconcile.js';
import { runInspectJob } from './run-action.js';
import { runStage } from './run-stage.js';

type Processor = (ctx: StageContext, job: Job, active: ActiveStages) => Promise<unknown>;

const PROCESSORS: Record<QueueName, Processor> = {
  build: (ctx, job, active) => runStage('build', ctx, job, active),
  setup: (ctx, job, active) => runStage('setup', ctx, job, active),
  deploy: (ctx, job, active) => runStage(job.name === 'stop' ? 'stop' : 'deploy', ctx, job, active),
  inspect: (ctx, job) =>
    job.name === HEALTH_WATCH_JOB ? healthWatchTick(ctx) : runInspectJob(ctx, job),
};

/** After the grace period and the hand-back, how long closing may still take. */
const HANDBACK_MS = 15_000;

export interface WorkerSet {
  workers: Worker[];
  /** Stages running in this process. */
  active: ActiveStages;
  /**
   * Stops taking jobs, lets running stages finish for `graceMs` (default
   * SHUTDOWN_GRACE_SECONDS), then hands the rest back so another worker resumes them.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Starts one worker per queue, the periodic reconciler, webhook delivery and log retention
 * (workers/housekeeping.ts), and (with inspect) the health watch.
 */
export function startWorkers(
  ctx: StageContext,
  queues: readonly QueueName[],
  opts: { concurrency: number; reconcileEveryMs?: number },
): WorkerSet {
  const active = new ActiveStages();
  const workers = queues.map((name) => {
    const w = ctx.queues.worker(
      name,
      (job: Job) => PROCESSORS[name](ctx, job, active),
      opts.concurrency,
    );
    w.on('failed', (job, err) =>
      ctx.logger.warn({ queue: name, job: job?.id, err: err.message }, 'job failed'),
    );
    w.on('error', (err) => ctx.logger.error({ queue: name, err: err.message }, 'worker error'));
    w.run().catch((err: unknown) => ctx.logger.error({ queue: name, err }, 'worker stopped'));
    return w;
  });
  const tick = () => {
    reconcile(ctx).then(
      (r) => (r.requeued.length || r.failed.length) && ctx.logger.info(r, 'reconciled runs'),
      (err: unknown) => ctx.logger.warn({ err: (err as Error).message }, 'reconcile failed'),
    );
  };
  const timer = setInterval(
    tick,
    opts.reconcileEveryMs ?? ctx.config.RECONCILE_INTERVAL_SECONDS * 1000,
  );
  timer.unref();
  tick();
  const housekeeping = startHousekeeping(ctx);
  if (queues.includes('inspect')) {
    scheduleHealthWatch(ctx).catch((err: unknown) =>
      ctx.logger.warn({ err: (err as Error).message }, 'health watch not scheduled'),
    );
  }
  return {
    workers,
    active,
    async close(graceMs = ctx.config.SHUTDOWN_GRACE_SECONDS * 1000) {
      clearInterval(timer);
      await housekeeping.stop();
      await closeWorkers(ctx, workers, active, graceMs);
      // after the stages: a setup that ended during the grace period parked its connection
      await ctx.closeTransports();
    },
  };
}

/**
 * Stops taking jobs, lets running stages finish for `graceMs`, then hands the rest back so
 * another worker resumes them.
 */
async function closeWorkers(
  ctx: StageContext,
  workers: Worker[],
  active: ActiveStages,
  graceMs: number,
): Promise<void> {
  const closing = Promise.all(workers.map((w) => w.close()));
  const finished = await Promise.race([closing.then(() => true), sleep(graceMs).then(() => false)]);
  if (finished) {
    return;
  }
  ctx.logger.warn({ stages: active.size }, 'grace period over: handing running stages back');
  active.abortAll('shutdown');
  const handed = await Promise.race([
    closing.then(() => true),
    sleep(HANDBACK_MS).then(() => false),
  ]);
  if (!handed) {
    await Promise.all(workers.map((w) => w.close(true)));
  }
}
