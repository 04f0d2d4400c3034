/**
 * The actions that start or end runs. Each is one transaction (shared/repositories/runs.ts):
 * a conditional claim, its history events and its first job (outbox), then a relay kick.
 */
import type { DeploymentRow } from '../shared/repositories/deployments.js';
import { rollbackTarget } from '../shared/repositories/rollback-target.js';
import {
  requestCancel,
  startRun,
  startRunIn,
  type PlanRun,
  type RunPlan,
} from '../shared/repositories/runs.js';
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

/**
 * Rollback: straight to deploying a release the target holds (`sha256`, else the default
 * target), chosen in the claim's transaction on the locked row, so no deploy can change
 * current_release between the choice and the claim.
 */
const rollbackPlan =
  (sha256: string | undefined): PlanRun =>
  async (d, trx) => {
    const release = await rollbackTarget(trx, d, sha256);
    const options = { release: release.sha256 };
    return { to: 'deploying', stage: 'deploy', message: `rollback to ${release.sha256}`, options };
  };

/** What each run kind is asked for: a flag (force_rebuild, stop_resources) or a release. */
export interface RunAsk {
  execute: boolean;
  retry: boolean;
  redeploy: boolean;
  stop: boolean;
  rollback: string | undefined;
}

const PLANS: { [K in RunKind]: (ask: RunAsk[K]) => PlanRun } = {
  execute: fromTop('execute'),
  retry: fromTop('retry'),
  redeploy: redeployPlan,
  stop: stopPlan,
  rollback: rollbackPlan,
};

/** Starts a run of `kind` with what it was asked for (force_rebuild, stop_resources, sha256). */
export async function startAction<K extends RunKind>(
  deps: ApiDeps,
  id: string,
  kind: K,
  ask: RunAsk[K],
  actor: string,
): Promise<Started> {
  const started = await startRun(deps.db, id, kind, actor, PLANS[kind](ask));
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
