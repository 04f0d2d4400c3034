/** Builds the BullMQ workers of a process for the queues it was asked to consume. */
import type { Job, Worker } from 'bullmq';
import type { QueueName } from '../shared/queues.js';
import type { StageContext } from './context.js';
import { reconcile } from './reconcile.js';
import { runInspectJob, runStopJob } from './run-action.js';
import { runStage } from './run-stage.js';

const PROCESSORS: Record<QueueName, (ctx: StageContext, job: Job) => Promise<unknown>> = {
  build: (ctx, job) => runStage('build', ctx, job),
  setup: (ctx, job) => runStage('setup', ctx, job),
  deploy: (ctx, job) => (job.name === 'stop' ? runStopJob(ctx, job) : runStage('deploy', ctx, job)),
  inspect: (ctx, job) => runInspectJob(ctx, job),
};

export interface WorkerSet {
  workers: Worker[];
  /** Stops taking jobs, lets running ones finish, stops the reconciler. */
  close(): Promise<void>;
}

/** Starts one worker per queue, and the periodic reconciler. */
export function startWorkers(
  ctx: StageContext,
  queues: readonly QueueName[],
  opts: { concurrency: number; reconcileEveryMs?: number; quietMs?: number },
): WorkerSet {
  const workers = queues.map((name) => {
    const w = ctx.queues.worker(name, (job: Job) => PROCESSORS[name](ctx, job), opts.concurrency);
    w.on('failed', (job, err) =>
      ctx.logger.warn({ queue: name, job: job?.id, err: err.message }, 'job failed'),
    );
    w.on('error', (err) => ctx.logger.error({ queue: name, err }, 'worker error'));
    w.run().catch((err: unknown) => ctx.logger.error({ queue: name, err }, 'worker stopped'));
    return w;
  });
  const tick = () => {
    reconcile(ctx, opts.quietMs).then(
      (r) => (r.requeued.length || r.failed.length) && ctx.logger.info(r, 'reconciled runs'),
      (err: unknown) => ctx.logger.warn({ err }, 'reconcile failed'),
    );
  };
  const timer = setInterval(tick, opts.reconcileEveryMs ?? 30_000);
  timer.unref();
  tick();
  return {
    workers,
    async close() {
      clearInterval(timer);
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
