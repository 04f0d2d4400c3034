/** Inspect: process and resource status plus recent log lines, read from the target. */
import { scenarioSchema } from '../../shared/scenario.js';
import type { DeploymentRow } from '../../shared/repositories/deployments.js';
import type { Transport } from '../../shared/transports/types.js';
import { StepError } from '../../shared/errors.js';
import { parseResult } from '../remote.js';

const LOG_LINES = 50;

/**
 * A service as `manage.sh status` reports it, passed through as it is. The supervision members
 * (docs/target-layout.md, "Supervision") are absent from releases built before supervision.
 */
interface ServiceStatus {
  name: string;
  running: boolean;
  /** running | backoff | down; null when the service has no supervision state (not started). */
  state?: 'running' | 'backoff' | 'down' | null;
  restarts?: number;
  /** The service's last exit status (137 = SIGKILL, as a shell reports it), null before one. */
  last_exit?: number | null;
  last_exit_at?: string | null;
  since?: string | null;
}

/** Reads the target's view of the deployment; never changes its status. */
export async function runInspect(
  deployment: DeploymentRow,
  t: Transport,
): Promise<Record<string, unknown>> {
  const at = new Date().toISOString();
  const status = await t
    .exec(['./manage.sh', 'status'], { cwd: 'current', env: { STAGECOACH_HOME: t.workdir } })
    .catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
  if (status.code !== 0) {
    return {
      ok: false,
      at,
      error: 'nothing is deployed on the target yet (no current release)',
      detail: status.stderr.trim().slice(-500),
    };
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = parseResult(status, 'inspect');
  } catch (err) {
    if (!(err instanceof StepError)) {
      throw err;
    }
    // an inspect failure to report, like an unreadable target: never a crash of the job
    return {
      ok: false,
      at,
      error: err.message.split('\n')[0],
      code: err.code,
      detail: err.message,
    };
  }
  const services = (parsed.services as ServiceStatus[] | undefined) ?? [];
  const logs: Record<string, string[]> = {};
  for (const svc of services) {
    if (!scenarioSchema.shape.name.safeParse(svc.name).success) {
      continue;
    }
    const r = await t.exec(['tail', '-n', String(LOG_LINES), `state/logs/${svc.name}.log`]);
    logs[svc.name] = r.code === 0 ? r.stdout.split('\n').filter((l) => l !== '') : [];
  }
  // a supervisor that gave up (`down`) reports running:false too; the state check is for
  // a target whose status says otherwise
  const ok = services.length > 0 && services.every((s) => s.running && s.state !== 'down');
  return {
    ok,
    at,
    release: deployment.bundle?.sha256 ?? null,
    services,
    resources: parsed.resources ?? [],
    logs,
  };
}
