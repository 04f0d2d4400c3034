/** Stage deploy: resources, scenario build, services, health checks. */
import { edgePlan } from '../../shared/edge.js';
import { StepError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import type { DeploymentRow } from '../../shared/repositories/deployments.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StageContext } from '../context.js';
import type { StageRecorder } from '../recorder.js';
import { manage, targetPaths } from '../remote.js';
import { runEdge } from './edge.js';
import { releaseIsSetUp } from './setup.js';

/** Starts the release on the target and returns when every service is healthy. */
export async function runDeploy(
  ctx: StageContext,
  deployment: DeploymentRow,
  t: Transport,
  rec: StageRecorder,
  signal?: AbortSignal,
): Promise<Record<string, unknown>> {
  const bundle = deployment.bundle;
  if (!bundle || !(await releaseIsSetUp(t, bundle.sha256))) {
    throw new StepError(
      'release_check',
      'release_missing',
      'the target does not hold the set-up release for this bundle; Retry sets it up again',
    );
  }
  const manifest = deployment.manifest as unknown as Manifest;
  const release = targetPaths(bundle.sha256).release;
  const run = (step: string, code: string, command: string, args: string[] = [], extra = {}) =>
    rec.step(step, TITLES[step], (h) =>
      manage(t, release, command, args, {
        step,
        code,
        handle: h,
        home: t.workdir,
        signal,
        ...extra,
      }),
    );
  const resources = await run('start_resources', 'resource_start_failed', 'start-resources', [], {
    exitCodes: { 3: 'port_in_use' },
  });
  const build = await run('build', 'build_failed', 'build');
  const started = await run('start_services', 'service_start_failed', 'start', [], {
    exitCodes: { 3: 'port_in_use' },
  });
  const health = await run('health_check', 'health_check_failed', 'health', [
    String(manifest.health.timeout_s),
  ]);
  const edge = await runEdge(ctx, manifest, edgePlan(manifest, ''), t, release, rec);
  // the deployment is healthy now; a failed clean-up is reported in its step, not fatal
  const pruned = await run('prune', 'prune_failed', 'prune', [String(KEEP_RELEASES)]).catch(
    (err: Error) => ({ error: err.message }),
  );
  const services = (health.services as { process: boolean; port: boolean }[] | undefined) ?? [];
  return {
    bundle_sha256: bundle.sha256,
    resources: resources.resources ?? [],
    build_skipped: build.skipped ?? false,
    services: started.services ?? [],
    health: health.services ?? [],
    edge,
    pruned,
    checks: {
      services_running: services.length > 0 && services.every((x) => x.process),
      ports_accessible: services.length > 0 && services.every((x) => x.port),
      https: edge ? true : null,
    },
  };
}

/** Releases kept on a target besides the current one (for a quick rollback by hand). */
const KEEP_RELEASES = 3;

const TITLES: Record<string, string> = {
  start_resources: 'Start resources',
  build: 'Build the scenario',
  start_services: 'Start services',
  health_check: 'Health checks (processes, ports, HTTP)',
  prune: 'Remove old releases',
};
