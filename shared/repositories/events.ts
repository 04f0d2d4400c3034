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
  /**
   * The error code of the failure the event records: on run_ended and stage_finished of a failed
   * run, and on the status event to `failed`; null otherwise. Readers use it, never `message`.
   */
  code: string | null;
  /** The kind of run a run_started or run_ended event starts or ends; null on other kinds. */
  run_kind: string | null;
  created_at: Date;
}

/** An event to insert: `code` and `run_kind` default to null. */
export type NewEvent = Omit<EventRow, 'id' | 'created_at' | 'code' | 'run_kind'> &
  Partial<Pick<EventRow, 'code' | 'run_kind'>>;

/** The columns of an event as the API shows it (GET /history, the SSE `history` event). */
export const EVENT_COLUMNS = [
  'id',
  'run_id',
  'kind',
  'from_status',
  'to_status',
  'stage',
  'message',
  'code',
  'run_kind',
  'actor',
  'created_at',
] as const;

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
export async function insertEvent(db: Db, event: NewEvent): Promise<void> {
  await db('deployment_events').insert(event);
}

/**
 * Appends several events in one statement, in order (ids ascend with the array). Callers hold
 * the deployment's row lock (writeRun's conditional update), so one deployment's events commit
 * in id order: the live event stream (live-events.ts) relies on it.
 */
export async function insertEvents(db: Db, events: NewEvent[]): Promise<void> {
  if (events.length) {
    await db('deployment_events').insert(events);
  }
}

/** All events of a deployment, oldest first. */
export async function listEvents(db: Db, deploymentId: string): Promise<EventRow[]> {
  const rows = await db('deployment_events')
    .where({ deployment_id: deploymentId })
    .orderBy('id', 'asc')
    .select(...EVENT_COLUMNS);
  return rows.map((r: EventRow) => ({ ...r, id: String(r.id) }));
}
