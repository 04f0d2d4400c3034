/** The API's view of a deployment row. */
import type { DeploymentRow } from '../shared/repositories/deployments.js';
import { isRunActive } from '../shared/runs.js';

/** Internal columns of run control that are not part of the API. */
const HIDDEN = [
  'deleted_at',
  'lease_token',
  'stage_gen',
  'run_options',
  'edge_key',
  'secrets',
] as const;

/** The deployment as the API returns it. */
export function deploymentView(d: DeploymentRow): Record<string, unknown> {
  const out: Record<string, unknown> = { ...d };
  for (const key of HIDDEN) {
    delete out[key];
  }
  delete out.lease_live;
  return { ...out, run_active: isRunActive(d) };
}
