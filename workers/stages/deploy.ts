/**
 * Stage deploy: resources, scenario build, the release's services beside the serving ones,
 * health checks, the edge switch, then promote (the old instance drains). A failure of the new
 * release puts the previous one back (./rollback.ts).
 */
import { edgePlan } from '../../shared/edge.js';
import { StepError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import type { DeploymentRow } from '../../shared/repositories/deployments.js';
import { findRelease, markRemoved, recordRelease } from '../../shared/repositories/releases.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StageContext } from '../context.js';
import type { StageRecorder } from '../recorder.js';
import { manage, targetPaths } from '../remote.js';
import { runEdge } from './edge.js';
import { releaseFacts, type ReleaseFacts } from './release-facts.js';
import { markServed, rollBack } from './rollback.js';
import { mayBeUnchanged, short, unchangedVerdict } from './unchanged.js';

/** What a deploy run puts in place: the deployment's bundle, or the release a rollback names. */
interface DeployTarget {
  sha256: string;
  manifest: Manifest;
  /** A rollback by hand: the release becomes the deployment's own bundle and manifest. */
  adopt: boolean;
}

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

/** What a step runner of this stage needs (one deploy run). */
interface DeployRun {
  ctx: StageContext;
  d: DeploymentRow;
  t: Transport;
  rec: StageRecorder;
  lease: { token: string; signal?: AbortSignal };
  target: DeployTarget;
  run: (
    step: string,
    code: string,
    command: string,
    args?: string[],
    extra?: object,
  ) => Promise<Record<string, unknown>>;
}

/** What serving the release did: its instances, health, edge and drained records. */
interface Served {
  services: unknown[];
  health: Record<string, unknown>;
  edge: Record<string, unknown> | null;
  drained: unknown[];
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
  const dr: DeployRun = { ctx, d, t, rec, lease, target, run };
  // steps with nothing to do are skipped here rather than asked of the target
  const resources = facts.hasResources
    ? await run('start_resources', 'resource_start_failed', 'start-resources', [], {
        exitCodes: { 3: 'port_in_use' },
      })
    : skip('start_resources', 'the release declares no resources', { resources: [] });
  const build = facts.built
    ? skip('build', `release ${sha256} is already built on the target`, { skipped: true })
    : await run('build', 'build_failed', 'build');
  let verdict = unchangedVerdict(d, sha256, target.adopt, facts);
  let served: Served | null = null;
  if (verdict.unchanged) {
    const kept = await keepServing(dr, facts);
    if ('reason' in kept) {
      verdict = { unchanged: false, reason: kept.reason };
    } else {
      served = kept;
    }
  }
  served ??= await startAndPromote(dr, facts.serving);
  // the deployment is healthy now; a failed clean-up is reported in its step, not fatal. Only
  // when the target may hold more than it keeps (the serving, this and KEEP_RELEASES others).
  const pruned =
    facts.releases > KEEP_RELEASES + 1
      ? await run('prune', 'prune_failed', 'prune', [String(KEEP_RELEASES)]).catch(
          (err: Error) => ({ error: err.message }),
        )
      : skip('prune', `the target holds ${facts.releases} releases`, { removed: [] });
  const removed = (pruned as Record<string, unknown>).removed;
  if (Array.isArray(removed)) {
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

/**
 * The unchanged release that serves: one round of health checks and the edge's (Caddy is left
 * as it is when its config is unchanged, started when it is not running), start and promote
 * skipped. A failed check returns why; the caller then starts the release as any other.
 */
async function keepServing(
  dr: DeployRun,
  facts: ReleaseFacts,
): Promise<Served | { reason: string }> {
  const { ctx, rec, t, target, lease } = dr;
  const release = targetPaths(target.sha256).release;
  let health: Record<string, unknown>;
  let edge: Record<string, unknown> | null;
  try {
    // timeout 0: one round, no polling; a service that does not answer now is restarted
    health = await rec.step('health_check', 'Health checks of the serving release', (h) =>
      manage(t, release, 'health', ['0'], {
        step: 'health_check',
        code: 'health_check_failed',
        handle: h,
        home: t.workdir,
        signal: lease.signal,
      }),
    );
    edge = await runEdge(ctx, target.manifest, edgePlan(target.manifest, ''), t, release, rec);
  } catch (err) {
    if (!(err instanceof StepError) || lease.signal?.aborted) {
      throw err;
    }
    return { reason: `the serving release failed its checks: ${err.message.split('\n')[0]}` };
  }
  const why = `release ${short(target.sha256)} already serving and healthy`;
  rec.skipped('start_services', TITLES.start_services, why);
  rec.skipped('promote', TITLES.promote, why);
  const services = facts.instances.map(({ name, record, pid, port }) => ({
    name,
    record,
    pid,
    port,
  }));
  return { services, health, edge, drained: [] };
}

/** Start → health → edge → promote; a failure puts the previous release back (./rollback.ts). */
async function startAndPromote(dr: DeployRun, previous: string | null): Promise<Served> {
  const { ctx, d, t, rec, lease, target, run } = dr;
  const { sha256, manifest } = target;
  if (!target.adopt && d.bundle) {
    await recordRelease(ctx.db, d.id, lease.token, { bundle: d.bundle, manifest: d.manifest });
  }
  const release = targetPaths(sha256).release;
  let started: Record<string, unknown>;
  let health: Record<string, unknown>;
  let edge: Record<string, unknown> | null;
  try {
    started = await run('start_services', 'service_start_failed', 'start', [], {
      exitCodes: { 3: 'port_in_use' },
    });
    health = await run('health_check', 'health_check_failed', 'health', [
      String(manifest.health.timeout_s),
    ]);
    edge = await runEdge(ctx, manifest, edgePlan(manifest, ''), t, release, rec);
  } catch (err) {
    if (err instanceof StepError && !lease.signal?.aborted) {
      const outcome = await rollBack({
        ctx,
        d,
        t,
        rec,
        token: lease.token,
        failed: sha256,
        previous,
      });
      Object.assign(rec.facts, outcome);
    }
    throw err;
  }
  const promoted = await run('promote', 'promote_failed', 'promote');
  await markServed(ctx, d, lease.token, sha256, target.adopt);
  return {
    services: (started.services as unknown[] | undefined) ?? [],
    health,
    edge,
    drained: (promoted.drained as unknown[] | undefined) ?? [],
  };
}

/** Releases kept on a target besides the current one (rollback targets). */
const KEEP_RELEASES = 3;

const TITLES: Record<string, string> = {
  start_resources: 'Start resources',
  build: 'Build the scenario',
  start_services: 'Start services',
  health_check: 'Health checks (processes, ports, HTTP)',
  promote: 'Switch to the new release (the old one drains)',
  prune: 'Remove old releases',
};
