/** Step output, streamed into Postgres in chunks. */
import type { Db } from '../db.js';
import { outputText } from '../transports/types.js';

export interface LogChunk {
  deployment_id: string;
  run_id: string | null;
  stage: string;
  step: string;
  stream: 'stdout' | 'stderr';
  chunk: string;
}

/** Advisory lock class of a deployment's log appends (key 2: hashtext of its id). */
const LOG_APPEND_LOCK = 0x5c0a106;

/**
 * Appends output chunks: one statement for the batch, so one round trip. A `text` column cannot
 * hold U+0000: a NUL is stored as U+FFFD, as the transports already deliver it (`outputText`),
 * so no writer can lose a batch of output to one byte. Appends to one deployment are serialised
 * (a transaction lock taken before the ids are drawn), so its rows commit in id order: the live
 * event stream reads "rows after the last id sent" and would otherwise skip a row committed late.
 * The lock is the statement's InitPlan, a one-time filter PostgreSQL evaluates before the first
 * row (and its nextval) is produced; the statement is its own transaction, which holds the lock
 * until its commit. Rows take ids in array order (unnest yields them in order).
 */
export async function appendLogs(db: Db, chunks: LogChunk[]): Promise<void> {
  if (chunks.length === 0) {
    return;
  }
  const ids = [...new Set(chunks.map((c) => c.deployment_id))].sort();
  const column = <K extends keyof LogChunk>(key: K) => chunks.map((c) => c[key]);
  await db.raw(
    `insert into deployment_logs (deployment_id, run_id, stage, step, stream, chunk)
     select * from unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[])
     where (select count(pg_advisory_xact_lock(?, hashtext(d))) from unnest(?::text[]) d) >= 0`,
    [
      column('deployment_id'),
      // null elements go as NULL (node-pg's array encoding); knex's types only know string[]
      column('run_id') as string[],
      column('stage'),
      column('step'),
      column('stream'),
      chunks.map((c) => outputText(c.chunk)),
      LOG_APPEND_LOCK,
      ids,
    ],
  );
}

/** Output of a deployment, oldest first, optionally for one run. */
export async function listLogs(
  db: Db,
  deploymentId: string,
  opts: { runId?: string; afterId?: number; limit: number },
): Promise<(LogChunk & { id: string; created_at: Date })[]> {
  const query = db('deployment_logs')
    .where({ deployment_id: deploymentId })
    .andWhere('id', '>', opts.afterId ?? 0)
    .orderBy('id', 'asc')
    .limit(opts.limit);
  if (opts.runId) {
    query.andWhere({ run_id: opts.runId });
  }
  const rows = await query;
  return rows.map((r: LogChunk & { id: string | number; created_at: Date }) => ({
    ...r,
    id: String(r.id),
  }));
}
