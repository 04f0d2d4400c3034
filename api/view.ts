/** The API's view of a deployment row. */
import type { DeploymentRow } from '../shared/repositories/deployments.js';
import { IN_PROGRESS } from '../shared/status.js';

/** True while a run is under way (a fresh `pending` deployment has no run yet). */
export function runActive(d: DeploymentRow): boolean {
  return IN_PROGRESS.includes(d.status) || (d.status === 'pending' && d.run_id !== null);
}

/** The deployment as the API returns it. */
export function deploymentView(d: DeploymentRow): Record<string, unknown> {
  const { deleted_at: _deleted, ...rest } = d;
  return { ...rest, run_active: runActive(d) };
}
