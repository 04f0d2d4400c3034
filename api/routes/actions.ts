/** Action routes: execute, retry, redeploy, stop, inspect. */
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import type { ApiDeps } from '../deps.js';
import { parseOr } from '../errors.js';
import { execute, redeploy, retry, stop } from '../run-control.js';
import { deploymentView } from '../view.js';
import { loadDeployment } from './deployments.js';

const rebuildBody = z.strictObject({ force_rebuild: z.boolean().default(false) });
const stopBody = z.strictObject({ stop_resources: z.boolean().default(false) });
const inspectQuery = z.object({ wait: z.coerce.number().min(0).max(120).default(0) });
const POLL_MS = 100;

/** Waits for a job to end; null when it is still running after `seconds`. */
async function waitForJob(deps: ApiDeps, jobId: string, seconds: number): Promise<Job | null> {
  const deadline = Date.now() + seconds * 1000;
  const queue = deps.queues.queue('inspect');
  while (Date.now() < deadline) {
    const job = (await queue.getJob(jobId)) as Job | undefined;
    const state = job ? await job.getState() : 'missing';
    if (job && (state === 'completed' || state === 'failed')) {
      return job;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  return null;
}

/** The action routes. */
export function actionRoutes(deps: ApiDeps): Router {
  const r = Router();
  const body = <T extends z.ZodType>(schema: T, raw: unknown) =>
    parseOr(schema, raw ?? {}, 'invalid_request', 'request body');

  for (const [name, action] of [
    ['execute', execute],
    ['retry', retry],
    ['redeploy', redeploy],
  ] as const) {
    r.post(`/deployments/:id/${name}`, async (req, res) => {
      const { force_rebuild } = body(rebuildBody, req.body);
      const d = await loadDeployment(deps, req.params.id);
      const started = await action(deps, d, force_rebuild);
      res
        .status(202)
        .json({ deployment: deploymentView(started.deployment), run_id: started.runId });
    });
  }

  r.post('/deployments/:id/stop', async (req, res) => {
    const { stop_resources } = body(stopBody, req.body);
    const d = await loadDeployment(deps, req.params.id);
    const { runId } = await stop(deps, d, stop_resources);
    res
      .status(202)
      .json({ deployment: deploymentView(await loadDeployment(deps, d.id)), run_id: runId });
  });

  r.post('/deployments/:id/inspect', async (req, res) => {
    const { wait } = parseOr(inspectQuery, req.query, 'invalid_query', 'query');
    const d = await loadDeployment(deps, req.params.id);
    const jobId = `inspect-${randomUUID()}`;
    await deps.queues.add('inspect', { deploymentId: d.id, runId: null }, jobId);
    const job = wait > 0 ? await waitForJob(deps, jobId, wait) : null;
    if (!job) {
      res.status(202).json({ job_id: jobId });
      return;
    }
    if (job.failedReason) {
      throw new AppError('inspect_failed', job.failedReason, 502, { job_id: jobId });
    }
    res.status(200).json({ job_id: jobId, result: job.returnvalue as unknown });
  });

  return r;
}
