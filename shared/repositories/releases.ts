/**
 * Releases as data: every bundle set up on a deployment's target, with the manifest it was built
 * from, when it last became the serving release and when it was pruned. Worker writes are fenced
 * by the stage's lease token (./leases.ts), so a worker that lost its lease changes nothing.
 */
import type { Db } from '../db.js';
import { isUuid, patchDeployment, type DeploymentRow } from './deployments.js';

export interface ReleaseRow {
  deployment_id: string;
  sha256: string;
  /** The deployment's bundle info as recorded when it was set up. */
  bundle: NonNullable<DeploymentRow['bundle']>;
  /** The manifest snapshot the bundle was built from. */
  manifest: Record<string, unknown>;
  created_at: Date;
  /** Last time it became the serving release after passing its health checks; null: never. */
  deployed_at: Date | null;
  /** Pruned from the target; null: the target still holds it. */
  removed_at: Date | null;
}

/** Locks the deployment row while `token` holds its stage lease; false once the lease is lost. */
async function holdsLease(trx: Db, id: string, token: string): Promise<boolean> {
  const row: unknown = await trx('deployments')
    .select('id')
    .where({ id, lease_token: token })
    .forUpdate()
    .first();
  return row !== undefined;
}

/**
 * Records the bundle set up on the target (upsert: keeps created_at and deployed_at, clears
 * removed_at, takes the new bundle info and manifest). False when the lease was lost.
 */
export function recordRelease(
  db: Db,
  deploymentId: string,
  token: string,
  input: { bundle: ReleaseRow['bundle']; manifest: Record<string, unknown> },
): Promise<boolean> {
  return db.transaction(async (trx) => {
    if (!(await holdsLease(trx, deploymentId, token))) {
      return false;
    }
    const json = { bundle: JSON.stringify(input.bundle), manifest: JSON.stringify(input.manifest) };
    await trx('releases')
      .insert({ deployment_id: deploymentId, sha256: input.bundle.sha256, ...json })
      .onConflict(['deployment_id', 'sha256'])
      .merge({ ...json, removed_at: null });
    return true;
  });
}

/**
 * Records that release `sha256` serves now, after its health checks passed: its deployed_at and
 * the deployment's current_release, in one transaction. `adopt` (a rollback by hand) also makes
 * its bundle and manifest the deployment's own. False when the lease was lost; throws when the
 * release was never recorded (recordRelease comes first).
 */
export function markServing(
  db: Db,
  deploymentId: string,
  token: string,
  sha256: string,
  options: { adopt: boolean } = { adopt: false },
): Promise<boolean> {
  return db.transaction(async (trx) => {
    if (!(await holdsLease(trx, deploymentId, token))) {
      return false;
    }
    const [release] = (await trx('releases')
      .where({ deployment_id: deploymentId, sha256 })
      .update({ deployed_at: trx.fn.now() })
      .returning('*')) as ReleaseRow[];
    if (!release) {
      throw new Error(`release ${sha256} of deployment ${deploymentId} was never recorded`);
    }
    const adopted = options.adopt ? { bundle: release.bundle, manifest: release.manifest } : {};
    return patchDeployment(trx, deploymentId, token, { current_release: sha256, ...adopted });
  });
}

/** Records releases pruned from the target (removed_at = now()). False when the lease was lost. */
export function markRemoved(
  db: Db,
  deploymentId: string,
  token: string,
  sha256s: readonly string[],
): Promise<boolean> {
  return db.transaction(async (trx) => {
    if (!(await holdsLease(trx, deploymentId, token))) {
      return false;
    }
    if (sha256s.length > 0) {
      await trx('releases')
        .where({ deployment_id: deploymentId })
        .whereIn('sha256', sha256s)
        .whereNull('removed_at')
        .update({ removed_at: trx.fn.now() });
    }
    return true;
  });
}

/** The release `sha256` of the deployment, removed or not (check removed_at), or null. */
export async function findRelease(
  db: Db,
  deploymentId: string,
  sha256: string,
): Promise<ReleaseRow | null> {
  if (!isUuid(deploymentId)) {
    return null;
  }
  const row = (await db('releases').where({ deployment_id: deploymentId, sha256 }).first()) as
    ReleaseRow | undefined;
  return row ?? null;
}

/**
 * The releases the target still holds (not removed), newest first: by when each last served,
 * or was set up if it never served (coalesce(deployed_at, created_at)), then by set-up time.
 */
export async function listReleases(db: Db, deploymentId: string): Promise<ReleaseRow[]> {
  if (!isUuid(deploymentId)) {
    return [];
  }
  return (await db('releases')
    .where({ deployment_id: deploymentId })
    .whereNull('removed_at')
    .orderByRaw('coalesce(deployed_at, created_at) desc, created_at desc, sha256')) as ReleaseRow[];
}

/**
 * The one rule of the default rollback target: the release that most recently became the
 * serving one (so it passed its health checks), still on the target, other than current_release.
 * A release that never passed its health checks (deployed_at null) is never the default.
 */
export async function defaultRollbackTarget(
  db: Db,
  d: Pick<DeploymentRow, 'id' | 'current_release'>,
): Promise<ReleaseRow | null> {
  const query = db('releases')
    .where({ deployment_id: d.id })
    .whereNotNull('deployed_at')
    .whereNull('removed_at');
  if (d.current_release !== null) {
    query.whereNot({ sha256: d.current_release });
  }
  const row = (await query
    .orderBy([
      { column: 'deployed_at', order: 'desc' },
      { column: 'created_at', order: 'desc' },
    ])
    .first()) as ReleaseRow | undefined;
  return row ?? null;
}
