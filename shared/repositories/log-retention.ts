/**
 * Log retention: a deployment's `deployment_logs` rows are kept for its `keepRuns` newest runs
 * (ranked by their newest row); older runs' rows are deleted in bounded batches. Rows without
 * a run are not a run's output and are left alone.
 */
import type { Db } from '../db.js';

const PAGE = 500;
const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** Runs of the deployment beyond the `keepRuns` newest. */
async function expiredRuns(db: Db, deploymentId: string, keepRuns: number): Promise<string[]> {
  const rows = (await db('deployment_logs')
    .where({ deployment_id: deploymentId })
    .whereNotNull('run_id')
    .groupBy('run_id')
    .orderByRaw('max(id) desc')
    .offset(keepRuns)
    .select('run_id')) as { run_id: string }[];
  return rows.map((r) => r.run_id);
}

/** Deletes the runs' rows, at most `batch` per statement (short locks, bounded WAL bursts). */
async function deleteRuns(
  db: Db,
  deploymentId: string,
  runIds: string[],
  batch: number,
): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await db('deployment_logs')
      .whereIn(
        'id',
        db('deployment_logs')
          .select('id')
          .where({ deployment_id: deploymentId })
          .whereIn('run_id', runIds)
          .limit(batch),
      )
      .del();
    total += n;
    if (n < batch) {
      return total;
    }
  }
}

/** One pass over every deployment (deleted ones too); returns the rows deleted. */
export async function pruneLogs(db: Db, keepRuns: number, batch = 5000): Promise<number> {
  let total = 0;
  let after = NIL_UUID;
  for (;;) {
    const ids = (
      (await db('deployments').where('id', '>', after).orderBy('id').limit(PAGE).select('id')) as {
        id: string;
      }[]
    ).map((r) => r.id);
    for (const id of ids) {
      const runs = await expiredRuns(db, id, keepRuns);
      if (runs.length) {
        total += await deleteRuns(db, id, runs, batch);
      }
    }
    if (ids.length < PAGE) {
      return total;
    }
    after = ids[ids.length - 1]!;
  }
}
