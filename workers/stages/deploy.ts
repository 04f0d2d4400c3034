/**
 * Stage deploy: resources, scenario build, then the release served (./serve-release.ts): an
 * unchanged release that serves healthy is left running (./unchanged.ts); any other starts beside
 * the serving one, is health-checked, the edge switched, then promoted (the old instance drains),
 * and its failure puts the previous one back (./rollback.ts). Old releases are pruned last.
 */
import { StepError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import type { DeploymentRow } from '../../shared/repositories/deployments.js';
import { findRelease, markRemoved } from '../../shared/repositories/releases.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StageContext } from '../context.js';
import type { StageRecorder } from '../recorder.js';
import { manage, targetPaths } from '../remote.js';
import { releaseFacts } from './release-facts.js';
import { serveRelease, TITLES, type DeployRun, type DeployTarget } from './serve-release.js';
import { mayBeUnchanged } from './unchanged.js';

async function deployTarget(ctx: StageContext, d: DeploymentRow): Promise<DeployTarget | null> {
  const wanted = d.run_kind === 'rollback' ? d.run_options?.release : undefined;
  if (wanted === undefined) {
    return d.bundle
      ? { sha256: d.bundle.sha256, manifest: d.manifest as unknown as Manifest, adopt: false }
      : null;
  }
  const release = await findRelease(ctx.db, d.id, wanted);
  return release && !release.removed_at
    ? { sha256: wanted, manifest: release.manifest as unknown as Manifest, adopt: true }
    : null;
}

/** Starts the release on the target and returns when it serves, healthy. */
export async function runDeploy(
  ctx: StageContext,
  d: DeploymentRow,
  t: Transport,
  rec: StageRecorder,
  lease: { token: string; signal?: AbortSignal },
): Promise<Record<string, unknown>> {
  const target = await deployTarget(ctx, d);
  // the serving instances are read only for a deploy of the current release (./unchanged.ts)
  const ask = target !== null && mayBeUnchanged(d, target.sha256, target.adopt).unchanged;
  const facts = target ? await releaseFacts(t, target.sha256, ask) : null;
  if (!target || !facts?.setUp) {
    throw new StepError(
      'release_check',
      'release_missing',
      d.run_kind === 'rollback'
        ? `the target no longer holds release ${d.run_options?.release ?? '?'}; choose another one from GET …/releases`
        : 'the target does not hold the set-up release for this bundle; Retry sets it up again',
    );
  }
  const { sha256 } = target;
  const release = targetPaths(sha256).release;
  const skip = (step: string, reason: string, value: Record<string, unknown>) => {
    rec.skipped(step, TITLES[step], reason);
    return value;
  };
  const run: DeployRun['run'] = (step, code, command, args = [], extra = {}) =>
    rec.step(step, TITLES[step], (h) =>
      manage(t, release, command, args, {
        step,
        code,
        handle: h,
        home: t.workdir,
        signal: lease.signal,
        ...extra,
      }),
    );
  // steps with nothing to do are skipped here rather than asked of the target
  const resources = facts.hasResources
    ? await run('start_resources', 'resource_start_failed', 'start-resources', [], {
        exitCodes: { 3: 'port_in_use' },
      })
    : skip('start_resources', 'the release declares no resources', { resources: [] });
  const build = facts.built
    ? skip('build', `release ${sha256} is already built on the target`, { skipped: true })
    : !facts.builds
      ? skip('build', 'no service of the release has a build command', { skipped: true })
      : await run('build', 'build_failed', 'build');
  const { served, verdict } = await serveRelease({ ctx, d, t, rec, lease, target, run }, facts);
  // the deployment is healthy now; a failed clean-up is reported in its step, not fatal. Only
  // when the target may hold more than it keeps (the serving, this and KEEP_RELEASES others).
  const pruned =
    facts.releases > KEEP_RELEASES + 1
      ? await run('prune', 'prune_failed', 'prune', [String(KEEP_RELEASES)]).catch(
          (err: Error) => ({ error: err.message }),
        )
      : skip('prune', `the target holds ${facts.releases} releases`, { removed: [] });
  const removed = (pruned as Record<string, unknown>).removed;
  // a transaction that locks the row: only when there is something to record
  if (Array.isArray(removed) && removed.length > 0) {
    await markRemoved(ctx.db, d.id, lease.token, removed as string[]);
  }
  const { health, edge } = served;
  const services = (health.services as { process: boolean; port: boolean }[] | undefined) ?? [];
  return {
    bundle_sha256: sha256,
    release: sha256,
    previous_release: facts.serving,
    rolled_back: false,
    unchanged: verdict.unchanged,
    restart_reason: verdict.unchanged ? null : verdict.reason,
    resources: resources.resources ?? [],
    build_skipped: build.skipped ?? false,
    services: served.services,
    health: health.services ?? [],
    edge,
    drained: served.drained,
    pruned,
    checks: {
      services_running: services.length > 0 && services.every((x) => x.process),
      ports_accessible: services.length > 0 && services.every((x) => x.port),
      https: edge ? true : null,
    },
  };
}

/** Releases kept on a target besides the current one (rollback targets). */
const KEEP_RELEASES = 3;
