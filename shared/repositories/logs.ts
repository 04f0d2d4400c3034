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
 * Appends output chunks (one insert for the batch). A `text` column cannot hold U+0000: a NUL
 * is stored as U+FFFD, as the transports already deliver it (`outputText`), so no writer can
 * lose a batch of output to one byte. Appends to one deployment are serialised (a transaction
 * lock taken before the ids are drawn), so its rows commit in id order: the live event stream
 * reads "rows after the last id sent" and would otherwise skip a row committed late.
 */
export async function appendLogs(db: Db, chunks: LogChunk[]): Promise<void> {
  if (chunks.length === 0) {
    return;
  }
  const ids = [...new Set(chunks.map((c) => c.deployment_id))].sort();
  await db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(?, hashtext(d)) from unnest(?::text[]) d', [
      LOG_APPEND_LOCK,
      ids,
    ]);
    await trx('deployment_logs').insert(chunks.map((c) => ({ ...c, chunk: outputText(c.chunk) })));
  });
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
