/** The processor of inspect: reads the target, stores the result; never a run, never a status. */
import type { Job } from 'bullmq';
import { PAYLOADS } from '../shared/queues.js';
import { findDeployment, patchDeployment } from '../shared/repositories/deployments.js';
import type { StageContext } from './context.js';
import { runInspect } from './stages/inspect.js';

/** Inspect: reads the target and stores the result; the status never changes. */
export async function runInspectJob(ctx: StageContext, job: Job): Promise<unknown> {
  const { deploymentId } = PAYLOADS.inspect.parse(job.data);
  const d = await findDeployment(ctx.db, deploymentId);
  if (!d) {
    return { ok: false, error: 'deployment not found' };
  }
  const t = await ctx.openTransport(d);
  try {
    const result = await runInspect(d, t);
    await patchDeployment(ctx.db, deploymentId, null, {
      inspect_result: result,
      last_inspected_at: new Date(),
    });
    return result;
  } finally {
    await t.close();
  }
}
