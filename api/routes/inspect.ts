/** The inspect action: queue a read of the target and, with `?wait=N`, answer with its result. */
import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { Router } from 'express';
import { z } from 'zod';
import { AppError } from '../../shared/errors.js';
import { withTimeout } from '../../shared/infra.js';
import type { ApiDeps } from '../deps.js';
import { parseOr } from '../errors.js';
import { loadDeployment } from './deployments.js';

export const inspectQuery = z.object({ wait: z.coerce.number().min(0).max(120).default(0) });
const POLL_MS = 100;
/** Bound of each queue call: a Redis outage answers 503 instead of hanging the request. */
const QUEUE_CALL_MS = 5000;
const QUEUE = 'the queue backend';

/** Where a job stands, judged from one snapshot of it. */
export type JobOutcome =
  | { state: 'pending' }
  | { state: 'completed'; result: unknown }
  | { state: 'failed'; reason: string };

/**
 * Reads the outcome from a single job object. Asking for the job and then for its state
 * in a second call races the worker: the job can finish in between, and a snapshot taken
 * before completion (no return value yet) would be reported as the completed result.
 */
export function jobOutcome(job: Job | undefined): JobOutcome {
  // finishedOn is written together with returnvalue / failedReason, and only on the final
  // attempt; a failed attempt that will be retried leaves it unset
  if (!job?.finishedOn) {
    return { state: 'pending' };
  }
  // failedReason survives from an earlier failed attempt, so a return value wins over it
  if (job.returnvalue !== null && job.returnvalue !== undefined) {
    return { state: 'completed', result: job.returnvalue as unknown };
  }
  if (job.failedReason) {
    return { state: 'failed', reason: job.failedReason };
  }
  return { state: 'completed', result: null };
}

/**
 * A database statement in an error message: knex writes the SQL before the server's message
 * (`update "deployments" set … where "id" = $3 - <error>`).
 */
const SQL_TEXT =
  /\b(insert\s+into|update\s+\S+\s+set|delete\s+from|select\s[\s\S]*\sfrom)\b|\$\d+\b/i;
const INTERNAL_FAILURE =
  "the inspect job failed inside stagecoach (a database query or write); the worker's log has the details";

/** What a failed inspect may tell the caller: a target's error as it is, never SQL. */
export function publicReason(reason: string): string {
  return SQL_TEXT.test(reason) ? INTERNAL_FAILURE : reason;
}

/** Polls the job until it finishes or `seconds` pass (then `pending`). */
async function waitForOutcome(deps: ApiDeps, jobId: string, seconds: number): Promise<JobOutcome> {
  const deadline = Date.now() + seconds * 1000;
  const queue = deps.queues.queue('inspect');
  for (;;) {
    const job = (await withTimeout(queue.getJob(jobId), QUEUE_CALL_MS, QUEUE)) as Job | undefined;
    const outcome = jobOutcome(job);
    if (outcome.state !== 'pending' || Date.now() + POLL_MS >= deadline) {
      return outcome;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** The inspect route: 202 with the job id, 200 with the result, or 502 when the job failed. */
export function inspectRoutes(deps: ApiDeps): Router {
  const r = Router();

  r.post('/deployments/:id/inspect', async (req, res) => {
    const { wait } = parseOr(inspectQuery, req.query, 'invalid_query', 'query');
    const d = await loadDeployment(deps, req.params.id);
    const jobId = `inspect-${randomUUID()}`;
    await withTimeout(
      deps.queues.add('inspect', { deploymentId: d.id, runId: null }, jobId),
      QUEUE_CALL_MS,
      QUEUE,
    );
    const outcome: JobOutcome =
      wait > 0 ? await waitForOutcome(deps, jobId, wait) : { state: 'pending' };
    if (outcome.state === 'pending') {
      res.status(202).json({ job_id: jobId });
      return;
    }
    if (outcome.state === 'failed') {
      throw new AppError('inspect_failed', publicReason(outcome.reason), 502, { job_id: jobId });
    }
    res.status(200).json({ job_id: jobId, result: outcome.result });
  });

  return r;
}
