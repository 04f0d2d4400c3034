/**
 * Which release a rollback deploys: the one asked for, or the default target
 * (./releases.ts defaultRollbackTarget). Chosen inside the run's claim, on the locked row.
 */
import type { Db } from '../db.js';
import { AppError } from '../errors.js';
import type { DeploymentRow } from './deployments.js';
import { defaultRollbackTarget, findRelease, type ReleaseRow } from './releases.js';

/** 409 when no sha256 was given and no earlier healthy release is still on the target. */
export const noPreviousRelease = (): AppError =>
  new AppError(
    'no_previous_release',
    'no earlier release that passed its health checks is still on the target',
    409,
  );

/** 404 for a release the deployment never had, or one pruned from the target. */
export const releaseNotFound = (sha256: string): AppError =>
  new AppError('release_not_found', `release ${sha256} is not on the target`, 404, { sha256 });

/**
 * The release a rollback of `d` deploys: `sha256` when given (any release still on the target,
 * the serving one included), else the default target. Throws the two errors above.
 */
export async function rollbackTarget(
  db: Db,
  d: Pick<DeploymentRow, 'id' | 'current_release'>,
  sha256?: string,
): Promise<ReleaseRow> {
  if (sha256 === undefined) {
    const release = await defaultRollbackTarget(db, d);
    if (!release) {
      throw noPreviousRelease();
    }
    return release;
  }
  const release = await findRelease(db, d.id, sha256);
  if (!release || release.removed_at !== null) {
    throw releaseNotFound(sha256);
  }
  return release;
}
