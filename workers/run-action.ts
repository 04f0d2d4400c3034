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

/** Inspect: reads the target and stores the result; the status never changes. */
export async function runInspectJob(ctx: StageContext, job: Job): Promise<unknown> {
  const { deploymentId } = PAYLOADS.inspect.parse(job.data);
  const d = await findDeployment(ctx.db, deploymentId);
  if (!d) {
    return { ok: false, error: 'deployment not found' };
  }
  const t = await ctx.openTransport(d);
  try {
    const result = redactLogs(await runInspect(d, t), secretValues(ctx, d));
    await patchDeployment(ctx.db, deploymentId, null, {
      inspect_result: result,
      last_inspected_at: new Date(),
    });
    return result;
  } finally {
    await t.close();
  }
}
