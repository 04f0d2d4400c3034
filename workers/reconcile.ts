/**
 * Recovery by lease: a run whose stage lease expired (its worker died, froze or lost the
 * database for longer than the lease) gets its stage requeued, up to STAGE_MAX_ATTEMPTS, then
 * ends `failed` as `worker_lost`. A run waiting in a queue holds no lease and is never failed
 * for waiting; one whose job vanished without running (never leased) is requeued.
 */
import type { Knex } from 'knex';
import type { Job } from 'bullmq';
import { QUEUE_OF } from '../shared/queues.js';
import { stageJobId, type Stage } from '../shared/runs.js';
import { applyEnd } from '../shared/repositories/leases.js';
import { endRunFailed, failureAt } from '../shared/repositories/runs.js';
import { lockRow, type LockedRow } from '../shared/repositories/run-write.js';
import type { StageContext } from './context.js';

const ACTOR = 'reconciler';
const LIVE = new Set(['active', 'waiting', 'delayed', 'prioritized', 'waiting-children']);

export interface ReconcileReport {
  requeued: string[];
  failed: string[];
}

/** One pass over expired leases and vanished jobs. */
export async function reconcile(ctx: StageContext): Promise<ReconcileReport> {
  const out: ReconcileReport = { requeued: [], failed: [] };
  const expired = (await ctx
    .db('deployments')
    .whereNull('deleted_at')
    .whereNotNull('run_kind')
    .whereNotNull('lease_token')
    .andWhere('lease_expires_at', '<', ctx.db.fn.now())
    .limit(100)
    .pluck('id')) as string[];
  for (const id of expired) {
    await settle(
      ctx,
      id,
      out,
      (cur) => cur.lease_token !== null && !cur.lease_live,
      'its lease expired',
    );
  }
  for (const cur of await unleased(ctx)) {
    const stage = cur.run_stage as Stage;
    const job = (await ctx.queues
      .queue(QUEUE_OF[stage])
      .getJob(stageJobId(cur.run_id as string, stage, cur.stage_gen))) as Job | undefined;
    const state = job ? await job.getState() : 'missing';
    if (!LIVE.has(state)) {
      const gen = cur.stage_gen;
      await settle(
        ctx,
        cur.id,
        out,
        (row) => row.lease_token === null && row.stage_gen === gen,
        `its ${stage} job ended (${state}) without running`,
      );
    }
  }
  if (out.requeued.length) {
    ctx.relay?.kick();
  }
  return out;
}

/** Runs with no lease that have not moved for a lease period and whose job is not in the outbox. */
async function unleased(ctx: StageContext): Promise<LockedRow[]> {
  const quiet = ctx.config.RUN_LEASE_SECONDS;
  return (await ctx
    .db('deployments as d')
    .select('d.*')
    .whereNull('d.deleted_at')
    .whereNotNull('d.run_kind')
    .whereNull('d.lease_token')
    .andWhere('d.updated_at', '<', ctx.db.raw('now() - make_interval(secs => ?)', [quiet]))
    .whereNotExists(function (this: Knex.QueryBuilder) {
      this.select(1)
        .from('job_outbox as o')
        .whereRaw("o.job_id = d.run_id::text || '-' || d.run_stage || '-' || d.stage_gen");
    })
    .limit(100)) as LockedRow[];
}

/** Requeues the run's stage (counting an attempt) or ends it, if `still` holds under the lock. */
async function settle(
  ctx: StageContext,
  id: string,
  out: ReconcileReport,
  still: (cur: LockedRow) => boolean,
  why: string,
): Promise<void> {
  await ctx.db.transaction(async (trx) => {
    const cur = await lockRow(trx, id);
    if (!cur || cur.run_kind === null || !still(cur)) {
      return;
    }
    const stage = cur.run_stage as Stage;
    const guard = (q: Knex.QueryBuilder) =>
      q.where({ stage_gen: cur.stage_gen, run_id: cur.run_id });
    const attempts = cur.stage_attempts + 1;
    if (cur.cancel_requested_at || attempts >= ctx.config.STAGE_MAX_ATTEMPTS) {
      const failure = cur.cancel_requested_at
        ? failureAt(cur, 'cancelled', `cancelled by ${cur.cancel_actor ?? 'api'}`)
        : failureAt(
            cur,
            'worker_lost',
            `the worker running ${stage} was lost: ${why} (${attempts} attempts)`,
          );
      await endRunFailed(trx, cur, guard, { failure, actor: cur.cancel_actor ?? ACTOR });
      out.failed.push(id);
      return;
    }
    const message = `${stage} requeued: ${why} (attempt ${attempts + 1} of ${ctx.config.STAGE_MAX_ATTEMPTS})`;
    await applyEnd(
      trx,
      cur,
      guard,
      stage,
      { kind: 'requeue', countAttempt: true, delayMs: 0, message },
      ACTOR,
    );
    out.requeued.push(id);
  });
}
