/**
 * Health watch: a BullMQ job scheduler on the inspect queue fires one tick per period (on
 * either backend, so one process handles each tick); the tick enqueues one inspect job per
 * idle `deployed` deployment, and the inspect job records `health` (runInspectJob).
 */
import type { Job } from 'bullmq';
import { listWatchedIds } from '../shared/repositories/deployment-list.js';
import {
  patchDeployment,
  type DeploymentHealth,
  type DeploymentRow,
} from '../shared/repositories/deployments.js';
import { lockRow } from '../shared/repositories/run-write.js';
import { enqueueWebhookEvent, healthEvent } from '../shared/repositories/webhook-deliveries.js';
import type { StageContext } from './context.js';

/** Scheduler id and job name of the tick (on the inspect queue, beside `inspect` jobs). */
export const HEALTH_WATCH_JOB = 'health-watch';
const WATCH_JOB_PREFIX = 'watch-';

/** Upserts the scheduler (HEALTH_WATCH_SECONDS > 0) or removes it (0 = off). */
export async function scheduleHealthWatch(ctx: StageContext): Promise<void> {
  const queue = ctx.queues.queue('inspect');
  const seconds = ctx.config.HEALTH_WATCH_SECONDS;
  if (seconds === 0) {
    await queue.removeJobScheduler(HEALTH_WATCH_JOB);
    return;
  }
  await queue.upsertJobScheduler(
    HEALTH_WATCH_JOB,
    { every: seconds * 1000 },
    { name: HEALTH_WATCH_JOB, data: {} },
  );
}

/** One tick: an inspect job per watched deployment, its id unique per deployment and period. */
export async function healthWatchTick(ctx: StageContext): Promise<{ enqueued: number }> {
  const everyMs = Math.max(1, ctx.config.HEALTH_WATCH_SECONDS) * 1000;
  const slot = Math.floor(Date.now() / everyMs);
  const ids = await listWatchedIds(ctx.db);
  for (const id of ids) {
    await ctx.queues.add('inspect', { deploymentId: id, runId: null }, watchJobId(id, slot));
  }
  return { enqueued: ids.length };
}

function watchJobId(deploymentId: string, slot: number): string {
  return `${WATCH_JOB_PREFIX}${deploymentId}-${slot}`;
}

/** True for an inspect job the watch enqueued (it is skipped when its deployment moved on). */
export function isWatchJob(job: Job): boolean {
  return job.id?.startsWith(WATCH_JOB_PREFIX) ?? false;
}

/** Health is only judged on a `deployed` deployment with no run changing it. */
export function isWatched(d: DeploymentRow): boolean {
  return d.status === 'deployed' && d.run_kind === null && d.deleted_at === null;
}

/** The verdict on an inspect result: all running → healthy, some → degraded, none → down. */
export function judgeHealth(result: Record<string, unknown>): DeploymentHealth {
  const raw = Array.isArray(result.services) ? (result.services as Record<string, unknown>[]) : [];
  // a service whose supervisor gave up (state `down`) is down, whatever else it says
  const services = raw.map((s) => ({
    name: String(s.name),
    running: s.running === true && s.state !== 'down',
  }));
  const up = services.filter((s) => s.running).length;
  const state =
    result.ok === true && up === services.length && up > 0
      ? 'healthy'
      : up > 0
        ? 'degraded'
        : 'down';
  const error = typeof result.error === 'string' ? { error: result.error } : {};
  return { state, checked_at: new Date().toISOString(), services, ...error };
}

/** A target that could not be read at all is down. */
export function unreachableHealth(err: unknown): DeploymentHealth {
  const message = err instanceof Error ? err.message : String(err);
  return {
    state: 'down',
    checked_at: new Date().toISOString(),
    services: [],
    error: message.slice(0, 500),
  };
}

/**
 * Stores `health` on the deployment; a change of state is logged and queued for webhooks in
 * the same transaction (judged against the locked row, not the one read before inspecting).
 */
export async function recordHealth(
  ctx: StageContext,
  d: DeploymentRow,
  health: DeploymentHealth,
): Promise<void> {
  const before = await ctx.db.transaction(async (trx) => {
    const live = await lockRow(trx, d.id);
    await patchDeployment(trx, d.id, null, { health });
    const was = (live ?? d).health?.state ?? null;
    if (live && was !== health.state) {
      await enqueueWebhookEvent(trx, healthEvent(d.id, was, health, live.run_id));
    }
    return was;
  });
  if (before !== health.state) {
    const log = health.state === 'healthy' ? ctx.logger.info : ctx.logger.warn;
    log.call(
      ctx.logger,
      { deployment: d.id, from: before, to: health.state, error: health.error },
      'deployment health changed',
    );
  }
}
