/** Reads behind the Prometheus metrics: current counts, and the history after a high-water mark. */
import type { Db } from '../db.js';
import type { EventKind } from './events.js';

/** Live (not deleted) deployments per status; statuses with none are absent. */
export async function countDeploymentsByStatus(db: Db): Promise<Map<string, number>> {
  const rows = (await db('deployments')
    .whereNull('deleted_at')
    .groupBy('status')
    .select('status', db.raw('count(*)::int as n'))) as { status: string; n: number }[];
  return new Map(rows.map((r) => [r.status, r.n]));
}

/** One history event as the metrics read it. */
export interface MetricEvent {
  id: number;
  kind: EventKind;
  stage: string | null;
  /** The failure's error code (null: the event records no failure). */
  code: string | null;
  /** The run kind of a run_started or run_ended. */
  run_kind: string | null;
  /**
   * On a stage_finished/stage_requeued: seconds since the stage_started of the attempt it ends;
   * null when that attempt never started (a queued job cancelled) or on other kinds.
   */
  seconds: number | null;
}

/**
 * Events with id > `afterId`, oldest first, at most `limit`: a range scan of the primary key.
 * A stage end finds its start through (deployment_id, id), reading back to the newest start or
 * end of the same run and stage (a few rows), so one batch costs O(limit) index lookups.
 */
export async function eventsAfter(db: Db, afterId: number, limit: number): Promise<MetricEvent[]> {
  const result = (await db.raw(
    `SELECT e.id::float8 AS id, e.kind, e.stage, e.code, e.run_kind,
            CASE WHEN s.kind = 'stage_started'
                 THEN extract(epoch FROM e.created_at - s.created_at)::float8 END AS seconds
       FROM deployment_events e
       LEFT JOIN LATERAL (
         SELECT p.kind, p.created_at FROM deployment_events p
          WHERE e.kind IN ('stage_finished', 'stage_requeued')
            AND p.deployment_id = e.deployment_id AND p.id < e.id
            AND p.run_id IS NOT DISTINCT FROM e.run_id AND p.stage = e.stage
            AND p.kind IN ('stage_started', 'stage_finished', 'stage_requeued')
          ORDER BY p.id DESC LIMIT 1
       ) s ON true
      WHERE e.id > ?
      ORDER BY e.id
      LIMIT ?`,
    [afterId, limit],
  )) as { rows: MetricEvent[] };
  return result.rows;
}
