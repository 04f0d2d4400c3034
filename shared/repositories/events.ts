/** The append-only history: status changes, and run and stage starts and ends. */
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
  /** `status` for a status change (an edge of the state machine); otherwise from = to. */
  kind: EventKind;
  created_at: Date;
}

export const EVENT_KINDS = [
  'status',
  'run_started',
  'stage_started',
  'stage_finished',
  'stage_requeued',
  'cancel_requested',
  'run_ended',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** Appends one event row (callers pass the transaction that changed the status). */
export async function insertEvent(
  db: Db,
  event: Omit<EventRow, 'id' | 'created_at'>,
): Promise<void> {
  await db('deployment_events').insert(event);
}

/**
 * Appends several events in one statement, in order (ids ascend with the array). Callers hold
 * the deployment's row lock (writeRun's conditional update), so one deployment's events commit
 * in id order: the live event stream (live-events.ts) relies on it.
 */
export async function insertEvents(
  db: Db,
  events: Omit<EventRow, 'id' | 'created_at'>[],
): Promise<void> {
  if (events.length) {
    await db('deployment_events').insert(events);
  }
}

/** All events of a deployment, oldest first. */
export async function listEvents(db: Db, deploymentId: string): Promise<EventRow[]> {
  const rows = await db('deployment_events')
    .where({ deployment_id: deploymentId })
    .orderBy('id', 'asc')
    .select(
      'id',
      'run_id',
      'kind',
      'from_status',
      'to_status',
      'stage',
      'message',
      'actor',
      'created_at',
    );
  return rows.map((r: EventRow) => ({ ...r, id: String(r.id) }));
}
