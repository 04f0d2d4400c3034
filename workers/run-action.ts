/** The processor of inspect: reads the target, stores the result; never a run, never a status. */
import type { Job } from 'bullmq';
import { PAYLOADS } from '../shared/queues.js';
import {
  findDeployment,
  patchDeployment,
  type DeploymentRow,
} from '../shared/repositories/deployments.js';
import { redactText } from '../shared/secrets/redact.js';
import type { StageContext } from './context.js';
import {
  isWatched,
  isWatchJob,
  judgeHealth,
  recordHealth,
  unreachableHealth,
} from './health-watch.js';
import { runInspect } from './stages/inspect.js';
import { openSecrets } from './stages/secrets.js';

/** The deployment's secret values, to keep them out of the service log lines inspect reads. */
function secretValues(ctx: StageContext, d: DeploymentRow): string[] {
  try {
    return Object.values(openSecrets(ctx, d));
  } catch (err) {
    ctx.logger.warn(
      { deployment: d.id, err: (err as Error).message },
      'inspect: secrets not opened',
    );
    return [];
  }
}

function redactLogs(result: Record<string, unknown>, values: string[]): Record<string, unknown> {
  const logs = result.logs as Record<string, string[]> | undefined;
  if (!logs || values.length === 0) {
    return result;
  }
  const safe = Object.fromEntries(
    Object.entries(logs).map(([k, lines]) => [k, lines.map((l) => redactText(l, values))]),
  );
  return { ...result, logs: safe };
}

/**
 * Inspect: reads the target and stores the result; the status never changes. On an idle
 * `deployed` deployment it also records `health` (an unreadable target is `down`).
 */
export async function runInspectJob(ctx: StageContext, job: Job): Promise<unknown> {
  const { deploymentId } = PAYLOADS.inspect.parse(job.data);
  const d = await findDeployment(ctx.db, deploymentId);
  if (!d) {
    return { ok: false, error: 'deployment not found' };
  }
  if (isWatchJob(job) && !isWatched(d)) {
    return { ok: false, skipped: 'not an idle deployed deployment' };
  }
  let result: Record<string, unknown>;
  try {
    result = await inspectTarget(ctx, d);
  } catch (err) {
    if (isWatched(d)) {
      await recordHealth(ctx, d, unreachableHealth(err));
    }
    throw err;
  }
  if (isWatched(d)) {
    await recordHealth(ctx, d, judgeHealth(result));
  }
  return result;
}

async function inspectTarget(
  ctx: StageContext,
  d: DeploymentRow,
): Promise<Record<string, unknown>> {
  const t = await ctx.openTransport(d);
  try {
    const result = redactLogs(await runInspect(d, t), secretValues(ctx, d));
    await patchDeployment(ctx.db, d.id, null, {
      inspect_result: result,
      last_inspected_at: new Date(),
    });
    return result;
  } finally {
    await t.close();
  }
}
