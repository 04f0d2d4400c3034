/**
 * The job outbox: "enqueue this job" written in the transaction that makes it due, relayed to
 * BullMQ afterwards (shared/outbox-relay.ts). A crash between commit and enqueue loses nothing;
 * the deterministic job id makes a repeated relay a no-op.
 */
import type { Db } from '../db.js';
import type { JobName } from '../queues.js';

export interface OutboxRow {
  id: string;
  job_name: JobName;
  job_id: string;
  payload: Record<string, unknown>;
  delay_ms: number;
}

/** Records a job to enqueue once the caller's transaction commits. */
export async function insertOutbox(db: Db, row: Omit<OutboxRow, 'id'>): Promise<void> {
  await db('job_outbox').insert({ ...row, payload: JSON.stringify(row.payload) });
}

/** Locks up to `limit` rows no other relay holds (the caller's transaction keeps the lock). */
export async function lockOutbox(db: Db, limit: number): Promise<OutboxRow[]> {
  const rows = (await db('job_outbox')
    .orderBy('id', 'asc')
    .limit(limit)
    .forUpdate()
    .skipLocked()) as OutboxRow[];
  return rows.map((r) => ({ ...r, id: String(r.id) }));
}

/** Removes relayed rows. */
export async function deleteOutbox(db: Db, ids: string[]): Promise<void> {
  if (ids.length) {
    await db('job_outbox').whereIn('id', ids).del();
  }
}

/** Removes the row of a job already enqueued directly (the relay would re-add it as a no-op). */
export async function deleteOutboxJob(db: Db, jobId: string): Promise<void> {
  await db('job_outbox').where({ job_id: jobId }).del();
}
