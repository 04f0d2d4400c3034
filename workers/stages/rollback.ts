/**
 * Automatic rollback: when a new release fails to start, its health checks or the edge's, the
 * release that served before it is put back (its services, its edge site), checked healthy and
 * promoted again. The decisions (what to stop, what to put back) are made here; the target only
 * carries them out (manage.sh discard, start --resume, health, edge-apply, promote, stop).
 */
import type { Manifest } from '../../shared/manifest.js';
import type { DeploymentRow } from '../../shared/repositories/deployments.js';
import { findRelease, markServing } from '../../shared/repositories/releases.js';
import type { Transport } from '../../shared/transports/types.js';
import type { StageContext } from '../context.js';
import type { StageRecorder } from '../recorder.js';
import { manage, targetPaths } from '../remote.js';
import { edgeEnv } from './edge.js';

/** Records that `sha256` serves now (when the database knows the release). */
export async function markServed(
  ctx: StageContext,
  d: DeploymentRow,
  token: string,
  sha256: string,
  adopt: boolean,
): Promise<void> {
  if (await findRelease(ctx.db, d.id, sha256)) {
    await markServing(ctx.db, d.id, token, sha256, { adopt });
  }
}

export interface RollbackInput {
  ctx: StageContext;
  d: DeploymentRow;
  t: Transport;
  rec: StageRecorder;
  token: string;
  /** The release that failed. */
  failed: string;
  /** The release serving before it (releaseFacts), if any. */
  previous: string | null;
}

/** What the stage result says of the rollback. */
export interface RollbackOutcome {
  rolled_back: boolean;
  /** The release serving now; null when nothing serves. */
  serving: string | null;
  rollback_error?: string;
}

/**
 * Puts the previous release back after `failed` failed; never throws (the real failure is what
 * the run reports). Without a previous release nothing of `failed` is left running.
 */
export async function rollBack(input: RollbackInput): Promise<RollbackOutcome> {
  const { t, rec, failed, previous } = input;
  const step = (id: string, title: string, release: string, command: string, args: string[] = []) =>
    rec.step(id, title, (h) =>
      manage(t, targetPaths(release).release, command, args, {
        step: id,
        code: 'rollback_failed',
        handle: h,
        home: t.workdir,
        env: command === 'edge-apply' ? edgeEnv(input.ctx, t) : undefined,
      }),
    );
  try {
    if (previous === failed) {
      // the same release served before: its old instance still does; drop the new one
      await step('rollback_discard', 'Stop what the failed start launched', failed, 'discard');
      return { rolled_back: false, serving: failed };
    }
    if (previous === null) {
      await step(
        'rollback_stop',
        'Stop the failed release (nothing to go back to)',
        failed,
        'stop',
      );
      return { rolled_back: false, serving: null };
    }
    await step('rollback_discard', 'Stop the failed release', failed, 'discard', ['--all']);
    const manifest = await previousManifest(input, previous);
    await step(
      'rollback_start',
      `Start release ${previous.slice(0, 12)} again`,
      previous,
      'start',
      ['--resume'],
    );
    await step('rollback_health', 'Health checks of the previous release', previous, 'health', [
      String(manifest?.health.timeout_s ?? 60),
    ]);
    if (await hasEdge(t, previous)) {
      await step(
        'rollback_edge',
        'Route Caddy back to the previous release',
        previous,
        'edge-apply',
      );
    }
    await step('rollback_promote', 'The previous release serves again', previous, 'promote');
    await markServed(input.ctx, input.d, input.token, previous, false);
    return { rolled_back: true, serving: previous };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { rolled_back: false, serving: null, rollback_error: rec.redact(message) };
  }
}

async function previousManifest(input: RollbackInput, sha256: string): Promise<Manifest | null> {
  const release = await findRelease(input.ctx.db, input.d.id, sha256);
  return (release?.manifest as unknown as Manifest | undefined) ?? null;
}

async function hasEdge(t: Transport, sha256: string): Promise<boolean> {
  const r = await t.exec(['test', '-f', `${targetPaths(sha256).release}/config/edge.env`]);
  return r.code === 0;
}
