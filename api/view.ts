/** The API's view of a deployment row. */
import type { DeploymentRow } from '../shared/repositories/deployments.js';
import { isRunActive, RUN_KINDS, RUN_STARTS_FROM, type RunKind } from '../shared/runs.js';

/** Internal columns of run control that are not part of the API. */
const HIDDEN = [
  'deleted_at',
  'lease_token',
  'stage_gen',
  'run_options',
  'edge_key',
  'secrets',
] as const;

/** A run kind, or `cancel`: what `actions` may list. */
export type DeploymentAction = RunKind | 'cancel';

/**
 * The actions the API would accept now, by the rules the claim itself applies
 * (shared/repositories/runs.ts): `cancel` while a run is active, else each run kind whose
 * RUN_STARTS_FROM holds the status. The dashboard shows these as buttons instead of
 * re-deriving the rule in the browser.
 */
export function allowedActions(d: Pick<DeploymentRow, 'status' | 'run_kind'>): DeploymentAction[] {
  if (isRunActive(d)) {
    return ['cancel'];
  }
  return RUN_KINDS.filter((kind) => RUN_STARTS_FROM[kind].includes(d.status));
}

/** The deployment as the API returns it. */
export function deploymentView(d: DeploymentRow): Record<string, unknown> {
  const out: Record<string, unknown> = { ...d };
  for (const key of HIDDEN) {
    delete out[key];
  }
  delete out.lease_live;
  return { ...out, run_active: isRunActive(d), actions: allowedActions(d) };
}
