/**
 * Reads of the live event stream: a deployment's history events and log lines after a cursor
 * (the last id sent of each table). Both tables commit in id order per deployment (events under
 * the row lock, logs under appendLogs' lock), so "after the last id" never skips a row.
 */
import type { Db } from '../db.js';
import { isUuid } from './deployments.js';
import { EVENT_COLUMNS, type EventRow } from './events.js';
import type { LogChunk } from './logs.js';

/** The last history event id and log line id a client has received. */
export interface StreamCursor {
  e: number;
  l: number;
}

export type LogLine = LogChunk & { id: string; created_at: Date };

/** One resumable item of the stream, in the order sent. */
export type StreamItem =
  | { type: 'history'; id: number; at: number; row: Omit<EventRow, 'deployment_id'> }
  | { type: 'log'; id: number; at: number; row: LogLine };

/** What the streams need of a deployment (deleted ones included: the stream ends then). */
export interface DeploymentState {
  id: string;
  name: string;
  status: string;
  health: { state: string } | null;
  progress: { stage: string; step: string; percent: number } | null;
  run_id: string | null;
  run_kind: string | null;
  deleted_at: Date | null;
  updated_at: Date;
}

/** The deployment's state, or null when no deployment has this id. */
export async function deploymentState(db: Db, id: string): Promise<DeploymentState | null> {
  if (!isUuid(id)) {
    return null;
  }
  const row = (await db('deployments')
    .where({ id })
    .first(
      'id',
      'name',
      'status',
      'health',
      'progress',
      'run_id',
      'run_kind',
      'deleted_at',
      'updated_at',
    )) as DeploymentState | undefined;
  return row ?? null;
}

/**
 * Where a client without Last-Event-ID starts: just before the first event of the latest run
 * (all of the history without a run), and after every log line of earlier runs.
 */
export async function runStart(db: Db, d: DeploymentState): Promise<StreamCursor> {
  if (!d.run_id) {
    return { e: 0, l: 0 };
  }
  const [first] = (await db('deployment_events')
    .where({ deployment_id: d.id, run_id: d.run_id })
    .min('id as id')) as { id: string | null }[];
  const [before] = (await db('deployment_logs')
    .where({ deployment_id: d.id })
    .whereRaw('run_id is distinct from ?', [d.run_id])
    .max('id as id')) as { id: string | null }[];
  return { e: first?.id ? Number(first.id) - 1 : 0, l: Number(before?.id ?? 0) };
}

/**
 * Up to `limit` events and `limit` log lines after the cursor, merged by time (events first
 * on a tie); `more` when a table had more to give.
 */
export async function readAfter(
  db: Db,
  deploymentId: string,
  cursor: StreamCursor,
  limit: number,
): Promise<{ items: StreamItem[]; more: boolean }> {
  const [events, logs] = await Promise.all([
    db('deployment_events')
      .where({ deployment_id: deploymentId })
      .andWhere('id', '>', cursor.e)
      .orderBy('id', 'asc')
      .limit(limit)
      .select(...EVENT_COLUMNS) as Promise<(EventRow & { id: string })[]>,
    db('deployment_logs')
      .where({ deployment_id: deploymentId })
      .andWhere('id', '>', cursor.l)
      .orderBy('id', 'asc')
      .limit(limit)
      .select('id', 'run_id', 'stage', 'step', 'stream', 'chunk', 'created_at') as Promise<
      LogLine[]
    >,
  ]);
  const a: StreamItem[] = events.map((row) => ({
    type: 'history' as const,
    id: Number(row.id),
    at: new Date(row.created_at).getTime(),
    row: { ...row, id: String(row.id) },
  }));
  const b: StreamItem[] = logs.map((row) => ({
    type: 'log' as const,
    id: Number(row.id),
    at: new Date(row.created_at).getTime(),
    row: { ...row, id: String(row.id) },
  }));
  return { items: mergeByTime(a, b), more: events.length === limit || logs.length === limit };
}

/** Merges two id-ordered lists by time without reordering either (a wins ties). */
function mergeByTime(a: StreamItem[], b: StreamItem[]): StreamItem[] {
  const out: StreamItem[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const takeA = j >= b.length || (i < a.length && a[i]!.at <= b[j]!.at);
    out.push(takeA ? a[i++]! : b[j++]!);
  }
  return out;
}
