/**
 * The actions that start or end runs. Each is one transaction (shared/repositories/runs.ts):
 * a conditional claim, its history events and its first job (outbox), then a relay kick.
 */
import type { DeploymentRow } from '../shared/repositories/deployments.js';
import { requestCancel, startRun, startRunIn, type RunPlan } from '../shared/repositories/runs.js';
import type { Db } from '../shared/db.js';
import type { RunKind } from '../shared/runs.js';
import type { ApiDeps } from './deps.js';

export interface Started {
  deployment: DeploymentRow;
  runId: string;
}

/** A run from the top (build → setup → deploy); on Retry every stage skips what is done. */
const fromTop = (message: string) => (forceRebuild: boolean) => (): RunPlan => ({
  to: 'pending',
  stage: 'build',
  message,
  options: { force_rebuild: forceRebuild },
});

/** Re-deploy: straight to deploying when the target holds the set-up bundle, else via setup. */
const redeployPlan =
  (forceRebuild: boolean) =>
  (d: DeploymentRow): RunPlan => {
    if (forceRebuild || !d.bundle) {
      const options = { force_rebuild: true };
      return { to: 'pending', stage: 'build', message: 'redeploy (rebuild)', options };
    }
    const setUp = d.setup_result?.ok === true && d.setup_result.bundle_sha256 === d.bundle.sha256;
    return setUp
      ? { to: 'deploying', stage: 'deploy', message: 'redeploy' }
      : { to: 'setup_running', stage: 'setup', message: 'redeploy (setup)' };
  };

/** Stop: the stop stage under a run of its own; the status stays until it succeeds. */
const stopPlan =
  (stopResources: boolean) =>
  (d: DeploymentRow): RunPlan => ({
    to: d.status,
    stage: 'stop',
    message: stopResources ? 'stop (services and resources)' : 'stop',
    options: { stop_resources: stopResources },
    keepError: true,
  });

const PLANS: Record<RunKind, (flag: boolean) => (d: DeploymentRow) => RunPlan> = {
  execute: fromTop('execute'),
  retry: fromTop('retry'),
  redeploy: redeployPlan,
  stop: stopPlan,
};

/** Starts a run of `kind` (flag: force_rebuild, or stop_resources for stop). */
export async function startAction(
  deps: ApiDeps,
  id: string,
  kind: RunKind,
  flag: boolean,
  actor: string,
): Promise<Started> {
  const started = await startRun(deps.db, id, kind, actor, PLANS[kind](flag));
  deps.relay.kick();
  return started;
}

/** Starts an execute run inside `trx` (create with `execute: true`). */
export function executeIn(trx: Db, id: string, actor: string): Promise<Started> {
  return startRunIn(trx, id, 'execute', actor, PLANS.execute(false));
}

/** Cancel: ends a queued run now, or asks the worker holding it to stop. */
export async function cancel(deps: ApiDeps, id: string, actor: string): Promise<Started> {
  const result = await requestCancel(deps.db, id, actor);
  deps.relay.kick();
  return result;
}
