/** How much output a run has stored (for the per-run log cap). */
import type { Db } from '../db.js';

/** Bytes of output stored for `runId` so far. */
export async function runLogBytes(db: Db, runId: string): Promise<number> {
  const row = (await db('deployment_logs')
    .where({ run_id: runId })
    .select(db.raw('coalesce(sum(octet_length(chunk)), 0)::bigint as n'))
    .first()) as { n: string | number } | undefined;
  return Number(row?.n ?? 0);
}
