/**
 * The Prometheus metrics, derived at scrape time from the database and the queues (the sources
 * of truth shared by every process), never from counts kept in one process's memory.
 */
import type { JobState } from 'bullmq';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../../shared/db.js';
import { withTimeout } from '../../shared/infra.js';
import { QUEUE_NAMES, type QueueRegistry } from '../../shared/queues.js';
import { countDeploymentsByStatus, type MetricEvent } from '../../shared/repositories/metrics.js';
import { RUN_KINDS } from '../../shared/runs.js';
import { STATUSES } from '../../shared/status.js';
import { HistoryFeed } from './history-feed.js';

/** Queue states reported per queue (what Bull Board's tabs count). */
export const QUEUE_STATES = [
  'waiting',
  'prioritized',
  'delayed',
  'active',
  'waiting-children',
  'completed',
  'failed',
] as const satisfies readonly JobState[];

/** One scrape stays well inside Prometheus' default 10 s scrape timeout. */
const CALL_MS = 4000;

/** Stage attempts last from a second (a skipped build) to the 30-minute default limits. */
const STAGE_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600];

export interface Metrics {
  contentType: string;
  /** Reads what is new in the history, then renders every metric. */
  scrape(): Promise<string>;
}

/** The registry of one API process (one per app, so apps built in one process don't clash). */
export function createMetrics(db: Db, queues: QueueRegistry): Metrics {
  const registers = [new Registry()];
  new Gauge({
    name: 'stagecoach_deployments',
    help: 'Deployments (not deleted) by status',
    labelNames: ['status'],
    registers,
    async collect() {
      const counts = await withTimeout(countDeploymentsByStatus(db), CALL_MS, 'the database');
      this.reset();
      for (const status of new Set([...STATUSES, ...counts.keys()])) {
        this.set({ status }, counts.get(status) ?? 0);
      }
    },
  });
  new Gauge({
    name: 'stagecoach_queue_jobs',
    help: 'Jobs per queue and state (completed and failed: as retained by the queue)',
    labelNames: ['queue', 'state'],
    registers,
    async collect() {
      const counts = await withTimeout(
        Promise.all(QUEUE_NAMES.map((n) => queues.queue(n).getJobCounts(...QUEUE_STATES))),
        CALL_MS,
        'the queue backend',
      );
      QUEUE_NAMES.forEach((queue, i) => {
        for (const state of QUEUE_STATES) {
          this.set({ queue, state }, counts[i]![state] ?? 0);
        }
      });
    },
  });
  const feed = new HistoryFeed(db, historyMetrics(registers));
  return {
    contentType: registers[0]!.contentType,
    async scrape() {
      await withTimeout(feed.catchUp(), CALL_MS, 'the database');
      return registers[0]!.metrics();
    },
  };
}

/** The counters and the histogram fed from the history; returns the function that feeds them. */
function historyMetrics(registers: Registry[]): (e: MetricEvent) => void {
  const started = new Counter({
    name: 'stagecoach_runs_started_total',
    help: 'Runs started, by kind (run_started events)',
    labelNames: ['kind'],
    registers,
  });
  const failed = new Counter({
    name: 'stagecoach_runs_failed_total',
    help: 'Runs that ended failed, by error code (run_ended events)',
    labelNames: ['code'],
    registers,
  });
  const durations = new Histogram({
    name: 'stagecoach_stage_duration_seconds',
    help: 'Stage attempts from stage_started to their end: ok, failed, cancelled or requeued',
    labelNames: ['stage', 'outcome'],
    buckets: STAGE_BUCKETS,
    registers,
  });
  for (const kind of RUN_KINDS) {
    started.inc({ kind }, 0);
  }
  return (e) => {
    const m = readEvent(e);
    if (m?.started) {
      started.inc({ kind: m.started });
    } else if (m?.failed) {
      failed.inc({ code: m.failed });
    } else if (m?.stage && e.seconds !== null) {
      durations.observe({ stage: m.stage.name, outcome: m.stage.outcome }, Math.max(0, e.seconds));
    }
  };
}

/** What an event means to the metrics (null: nothing). */
interface EventMeaning {
  started?: string;
  failed?: string;
  stage?: { name: string; outcome: 'ok' | 'failed' | 'cancelled' | 'requeued' };
}

const KINDS: ReadonlySet<string> = new Set(RUN_KINDS);

/**
 * Reads the kind and code columns, never the message (which is for people and may be reworded):
 * run_started counts under its run_kind, run_ended under its code when the run failed, and a
 * stage_finished with a code ended a failed (or, code `cancelled`, cancelled) attempt.
 */
export function readEvent(
  e: Pick<MetricEvent, 'kind' | 'stage' | 'code' | 'run_kind'>,
): EventMeaning | null {
  switch (e.kind) {
    case 'run_started':
      return { started: e.run_kind && KINDS.has(e.run_kind) ? e.run_kind : 'unknown' };
    case 'run_ended':
      return e.code ? { failed: e.code } : null;
    case 'stage_finished': {
      const outcome = !e.code ? 'ok' : e.code === 'cancelled' ? 'cancelled' : 'failed';
      return { stage: { name: e.stage ?? 'unknown', outcome } };
    }
    case 'stage_requeued':
      return { stage: { name: e.stage ?? 'unknown', outcome: 'requeued' } };
    default:
      return null;
  }
}
