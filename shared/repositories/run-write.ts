/**
 * The one low-level write of run state: a locked row, a conditional update, its history
 * events and the job it makes due (outbox), all in the caller's transaction.
 */
import type { Knex } from 'knex';
import type { Db } from '../db.js';
import type { JobName } from '../queues.js';
import { stageJobId, type Stage } from '../runs.js';
import { canTransition, type Status } from '../status.js';
import { encodePatch, isUuid, type DeploymentPatch, type DeploymentRow } from './deployments.js';
import { insertEvents, type EventKind } from './events.js';
import { insertOutbox } from './outbox.js';
import { enqueueWebhookEvent, statusEvent } from './webhook-deliveries.js';

/** A locked live row, with whether its lease is still live by the database's clock. */
export type LockedRow = DeploymentRow & { lease_live: boolean };

/** Locks the live deployment row for the rest of the transaction. */
export async function lockRow(trx: Db, id: string): Promise<LockedRow | null> {
  if (!isUuid(id)) {
    return null;
  }
  const row = (await trx('deployments')
    .select('*', trx.raw('coalesce(lease_expires_at > now(), false) as lease_live'))
    .where({ id })
    .whereNull('deleted_at')
    .forUpdate()
    .first()) as LockedRow | undefined;
  return row ?? null;
}

/** An event to append; `'status'` marks where the status-change event goes. */
export type EventSpec = {
  kind: Exclude<EventKind, 'status'>;
  message: string;
  stage: string | null;
  /** The failure's error code (run_ended, stage_finished of a failed run). */
  code?: string;
  /** The run's kind (run_started, run_ended). */
  run_kind?: string | null;
};

export interface Change {
  to?: Status;
  /** Columns to write (values or raw SQL such as `now()`). */
  patch: Record<string, unknown>;
  events: (EventSpec | 'status')[];
  statusMessage?: string;
  /** The error code the status event carries (a change to `failed`). */
  statusCode?: string;
  stage: string | null;
  actor: string;
  /** The stage job this change makes due (its id carries the row's new stage_gen). */
  enqueue?: { stage: Stage; gen: number; delayMs?: number };
}

const JOB_OF: Record<Stage, JobName> = {
  build: 'build',
  setup: 'setup',
  deploy: 'deploy',
  stop: 'stop',
};

/** `now() + ms` in the database's clock. */
export const dbNowPlus = (db: Db, ms: number): Knex.Raw =>
  db.raw('now() + make_interval(secs => ?)', [ms / 1000]);

/**
 * Applies `change` to `current` under `guard` (extra conditions of the conditional write).
 * Null when the guard no longer holds; throws on an edge the state machine does not have.
 */
export async function writeRun(
  trx: Db,
  current: DeploymentRow,
  guard: (q: Knex.QueryBuilder) => void,
  change: Change,
): Promise<DeploymentRow | null> {
  const to = change.to ?? current.status;
  if (to !== current.status && !canTransition(current.status, to)) {
    throw new Error(`illegal transition ${current.status} → ${to}`);
  }
  const query = trx('deployments').where({ id: current.id }).whereNull('deleted_at');
  guard(query);
  const [row] = (await query
    .update({
      ...encodePatch(change.patch as DeploymentPatch),
      status: to,
      updated_at: trx.fn.now(),
    })
    .returning('*')) as DeploymentRow[];
  if (!row) {
    return null;
  }
  let at = current.status;
  const rows = [];
  const specs: (EventSpec | 'status')[] = change.events.includes('status')
    ? change.events
    : [...change.events, 'status'];
  for (const spec of specs) {
    const base = { deployment_id: row.id, run_id: row.run_id, actor: change.actor };
    if (spec !== 'status') {
      const columns = { code: spec.code ?? null, run_kind: spec.run_kind ?? null };
      rows.push({ ...base, ...spec, ...columns, from_status: at, to_status: at });
    } else if (to !== current.status) {
      const message = change.statusMessage ?? `${current.status} → ${to}`;
      rows.push({
        ...base,
        kind: 'status' as const,
        from_status: current.status,
        to_status: to,
        stage: change.stage,
        message,
        code: change.statusCode ?? null,
        run_kind: null,
      });
      at = to;
    }
  }
  // one statement for every event of the change: fewer round trips on the hand-off path
  await insertEvents(trx, rows);
  if (to !== current.status) {
    // webhooks: queued in this transaction, so a committed change is always reported
    await enqueueWebhookEvent(trx, statusEvent(current.status, row));
  }
  if (change.enqueue) {
    const { stage, gen, delayMs } = change.enqueue;
    await insertOutbox(trx, stageJob(row, stage, gen, delayMs ?? 0));
  }
  return row;
}

/** The outbox row (job name, id, payload, delay) of a stage's job of generation `gen`. */
export function stageJob(row: DeploymentRow, stage: Stage, gen: number, delayMs: number) {
  return {
    job_name: JOB_OF[stage],
    job_id: stageJobId(row.run_id as string, stage, gen),
    payload: { deploymentId: row.id, runId: row.run_id, gen },
    delay_ms: delayMs,
  };
}

/** Patch fields that clear the error of an earlier run. */
export const NO_ERROR = { error_step: null, error_code: null, error_message: null } as const;

/** Patch fields that end the active run (its kind, stage, lease and cancel request). */
export const END_RUN = {
  run_kind: null,
  run_stage: null,
  lease_token: null,
  lease_expires_at: null,
  cancel_requested_at: null,
  cancel_actor: null,
} as const;
