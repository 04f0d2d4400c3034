/**
 * Serving the release in the deploy stage: either the unchanged release left as it runs, once
 * its checks pass (./unchanged.ts decides when to try), or start → health → edge → promote with
 * the automatic rollback (./rollback.ts) when the new release fails.
 */
import { edgePlan } from '../../shared/edge.js';
import { StepError } from '../../shared/errors.js';
import type { Manifest } from '../../shared/manifest.js';
import type { DeploymentRow } from '../../shared/repositories/deployments.js';
import { recordRelease } from '../../shared/repositories/releases.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StageContext } from '../context.js';
import type { StageRecorder } from '../recorder.js';
import { manage, targetPaths } from '../remote.js';
import { runEdge } from './edge.js';
import type { ReleaseFacts } from './release-facts.js';
import { markServed, rollBack } from './rollback.js';
import { short, unchangedVerdict, type Verdict } from './unchanged.js';

/** What a deploy run puts in place: the deployment's bundle, or the release a rollback names. */
export interface DeployTarget {
  sha256: string;
  manifest: Manifest;
  /** A rollback by hand: the release becomes the deployment's own bundle and manifest. */
  adopt: boolean;
}

/** What a step runner of this stage needs (one deploy run). */
export interface DeployRun {
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
export interface Served {
  services: unknown[];
  health: Record<string, unknown>;
  edge: Record<string, unknown> | null;
  drained: unknown[];
}

/**
 * Serves the release: left as it runs when unchangedVerdict says it may be and its checks pass,
 * else started, checked and promoted; the verdict says which (and why a restart).
 */
export async function serveRelease(
  dr: DeployRun,
  facts: ReleaseFacts,
): Promise<{ served: Served; verdict: Verdict }> {
  const verdict = unchangedVerdict(dr.d, dr.target.sha256, dr.target.adopt, facts);
  if (verdict.unchanged) {
    const kept = await keepServing(dr, facts);
    if (!('reason' in kept)) {
      return { served: kept, verdict };
    }
    return {
      served: await startAndPromote(dr, facts.serving),
      verdict: { unchanged: false, reason: kept.reason },
    };
  }
  return { served: await startAndPromote(dr, facts.serving), verdict };
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

/** The deploy stage's step titles. */
export const TITLES: Record<string, string> = {
  start_resources: 'Start resources',
  build: 'Build the scenario',
  start_services: 'Start services',
  health_check: 'Health checks (processes, ports, HTTP)',
  promote: 'Switch to the new release (the old one drains)',
  prune: 'Remove old releases',
};
