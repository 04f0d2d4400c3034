/** The append-only history of status changes. */
import type { Db } from '../db.js';

export interface EventRow {
  id: string;
  deployment_id: string;
  run_id: string | null;
  from_status: string | null;
  to_status: string;
  stage: string | null;
  message: string | null;
  actor: string;
  created_at: Date;
}

/** Appends one event row (callers pass the transaction that changed the status). */
export async function insertEvent(
  db: Db,
  event: Omit<EventRow, 'id' | 'created_at'>,
): Promise<void> {
  await db('deployment_events').insert(event);
}

/** All events of a deployment, oldest first. */
export async function listEvents(db: Db, deploymentId: string): Promise<EventRow[]> {
  const rows = await db('deployment_events')
    .where({ deployment_id: deploymentId })
    .orderBy('id', 'asc')
    .select('id', 'run_id', 'from_status', 'to_status', 'stage', 'message', 'actor', 'created_at');
  return rows.map((r: EventRow) => ({ ...r, id: String(r.id) }));
}
