/** Starting runs and actions: one status write (with its event) and one enqueue each. */
import { randomUUID } from 'node:crypto';
import { invalidState, AppError } from '../shared/errors.js';
import { stageJobId, type JobName } from '../shared/queues.js';
import {
  claimRun,
  patchDeployment,
  transition,
  type DeploymentRow,
} from '../shared/repositories/deployments.js';
import type { Status } from '../shared/status.js';
import type { ApiDeps } from './deps.js';
import { runActive } from './view.js';

const ACTOR = 'api';
const alreadyRunning = (): AppError =>
  new AppError('already_running', 'a run is already active for this deployment', 409);
const CLEARED = { error_step: null, error_code: null, error_message: null };

/** Where a run begins, and which job starts it. */
interface RunStart {
  to: Status;
  job: JobName;
  message: string;
  forceRebuild?: boolean;
}

/** Moves the deployment to the run's first status under a new run id, then enqueues its job. */
async function startRun(deps: ApiDeps, d: DeploymentRow, from: readonly Status[], start: RunStart) {
  const runId = randomUUID();
  const row = await transition(deps.db, {
    id: d.id,
    from,
    to: start.to,
    newRunId: runId,
    stage: start.job,
    message: start.message,
    actor: ACTOR,
    patch: { ...CLEARED, progress: { stage: start.job, step: 'queued', percent: 0 } },
  });
  if (!row) {
    throw alreadyRunning();
  }
  const data =
    start.job === 'build'
      ? { deploymentId: d.id, runId, forceRebuild: !!start.forceRebuild }
      : { deploymentId: d.id, runId };
  // if the process dies before this line, the reconciler enqueues the job (same id)
  await deps.queues.add(start.job, data, stageJobId(runId, start.job));
  return { deployment: row, runId };
}

/** Execute: a new run from the top (build → setup → deploy → inspect). */
export async function execute(deps: ApiDeps, d: DeploymentRow, forceRebuild: boolean) {
  if (runActive(d)) {
    throw alreadyRunning();
  }
  return startRun(deps, d, ['pending', 'deployed', 'stopped', 'failed'], {
    to: 'pending',
    job: 'build',
    message: 'execute',
    forceRebuild,
  });
}

/** Retry: only a failed deployment; every stage skips what is already done. */
export async function retry(deps: ApiDeps, d: DeploymentRow, forceRebuild: boolean) {
  if (d.status !== 'failed') {
    throw invalidState(`retry needs a failed deployment; this one is ${d.status}`, {
      status: d.status,
    });
  }
  return startRun(deps, d, ['failed'], {
    to: 'pending',
    job: 'build',
    message: 'retry',
    forceRebuild,
  });
}

/** Re-deploy: straight to deploying when the target holds the set-up bundle, else via setup. */
export async function redeploy(deps: ApiDeps, d: DeploymentRow, forceRebuild: boolean) {
  if (d.status !== 'deployed' && d.status !== 'stopped') {
    throw invalidState(
      `re-deploy needs a deployed or stopped deployment; this one is ${d.status}`,
      { status: d.status },
    );
  }
  const from = ['deployed', 'stopped'] as const;
  if (forceRebuild || !d.bundle) {
    return startRun(deps, d, from, {
      to: 'pending',
      job: 'build',
      message: 'redeploy (rebuild)',
      forceRebuild: true,
    });
  }
  const setUp = d.setup_result?.ok === true && d.setup_result.bundle_sha256 === d.bundle.sha256;
  return setUp
    ? startRun(deps, d, from, { to: 'deploying', job: 'deploy', message: 'redeploy' })
    : startRun(deps, d, from, { to: 'setup_running', job: 'setup', message: 'redeploy (setup)' });
}

/** Stop: enqueues the stop job under a new run id; the worker sets `stopped`. */
export async function stop(deps: ApiDeps, d: DeploymentRow, stopResources: boolean) {
  if (d.status !== 'deployed' && d.status !== 'failed') {
    throw invalidState(`stop needs a deployed or failed deployment; this one is ${d.status}`, {
      status: d.status,
    });
  }
  const runId = randomUUID();
  if (!(await claimRun(deps.db, d.id, ['deployed', 'failed'], runId))) {
    throw alreadyRunning();
  }
  await patchDeployment(deps.db, d.id, runId, {
    progress: { stage: 'stop', step: 'queued', percent: 0 },
  });
  await deps.queues.add(
    'stop',
    { deploymentId: d.id, runId, stopResources },
    stageJobId(runId, 'stop'),
  );
  return { runId };
}
