/**
 * What every worker process runs beside its queues: webhook delivery (polled every
 * WEBHOOK_POLL_MS) and log retention (every LOG_PRUNE_SECONDS). Both work on Postgres rows
 * that several processes can share safely, so neither needs a queue of its own.
 */
import { pruneLogs } from '../shared/repositories/log-retention.js';
import type { StageContext } from './context.js';
import { periodic, type Periodic } from './periodic.js';
import { deliverDue } from './webhook-loop.js';

/** Starts both loops; stop() ends them (an attempt under way is aborted and recorded). */
export function startHousekeeping(ctx: StageContext): Periodic {
  const warn = (what: string) => (err: unknown) =>
    ctx.logger.warn({ err: (err as Error).message }, what);
  const loops = [
    periodic(
      ctx.config.WEBHOOK_POLL_MS,
      (signal) => deliverDue(ctx, signal),
      warn('webhook delivery failed'),
    ),
  ];
  const pruneEvery = ctx.config.LOG_PRUNE_SECONDS * 1000;
  if (pruneEvery > 0) {
    loops.push(
      periodic(
        pruneEvery,
        async () => {
          const deleted = await pruneLogs(ctx.db, ctx.config.LOG_KEEP_RUNS);
          if (deleted > 0) {
            ctx.logger.info(
              { deleted, keep_runs: ctx.config.LOG_KEEP_RUNS },
              'pruned old run logs',
            );
          }
        },
        warn('log retention failed'),
      ),
    );
  }
  return {
    async stop() {
      await Promise.all(loops.map((l) => l.stop()));
    },
  };
}
