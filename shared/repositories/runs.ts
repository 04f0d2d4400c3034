/**
 * Starting, cancelling and ending runs. Every claim is a conditional write (`run_kind IS NULL`)
 * on the locked row, in one transaction with its history events and its first job (outbox).
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../db.js';
import { AppError, invalidState, notFound } from '../errors.js';
import { isRunActive, RUN_STARTS_FROM, type RunKind, type Stage } from '../runs.js';
import type { Status } from '../status.js';
import type { DeploymentRow, StageResult } from './deployments.js';
import { END_RUN, lockRow, NO_ERROR, writeRun } from './run-write.js';

/** 409 while another run is active. */
export const alreadyRunning = (): AppError =>
  new AppError('already_running', 'a run is already active for this deployment', 409);

/** Where a run begins: its first status and stage, and what it was asked for. */
export interface RunPlan {
  to: Status;
  stage: Stage;
  message: string;
  options?: NonNullable<DeploymentRow['run_options']>;
  /** Stop runs keep the error of the run before them until they succeed. */
  keepError?: boolean;
}

/**
 * Decides a run's first stage from the locked row; it may read more rows through `trx` (the
 * claim's transaction) and throw to refuse the run.
 */
export type PlanRun = (row: DeploymentRow, trx: Db) => RunPlan | Promise<RunPlan>;

/**
 * Claims a run of `kind` on the deployment inside `trx`: 404, 409 already_running or 409
 * invalid_state when it may not start. `plan` decides the first stage from the locked row.
 */
export async function startRunIn(
  trx: Db,
  id: string,
  kind: RunKind,
  actor: string,
  plan: PlanRun,
): Promise<{ deployment: DeploymentRow; runId: string }> {
  const current = await lockRow(trx, id);
  if (!current) {
    throw notFound('deployment');
  }
  if (isRunActive(current)) {
    throw alreadyRunning();
  }
  const from = RUN_STARTS_FROM[kind];
  if (!from.includes(current.status)) {
    throw invalidState(
      `${kind} needs a deployment that is ${from.join(' or ')}; this one is ${current.status}`,
      {
        status: current.status,
      },
    );
  }
  const p = await plan(current, trx);
  const runId = randomUUID();
  const gen = current.stage_gen + 1;
  const row = await writeRun(trx, current, (q) => q.whereNull('run_kind').whereIn('status', from), {
    to: p.to,
    stage: p.stage,
    actor,
    statusMessage: p.message,
    patch: {
      ...(p.keepError ? {} : NO_ERROR),
      ...END_RUN,
      run_id: runId,
      run_kind: kind,
      run_stage: p.stage,
      run_options: p.options ?? {},
      stage_gen: gen,
      stage_attempts: 0,
      progress: { stage: p.stage, step: 'queued', percent: 0 },
    },
    events: [{ kind: 'run_started', message: p.message, stage: p.stage, run_kind: kind }, 'status'],
    enqueue: { stage: p.stage, gen },
  });
  if (!row) {
    throw alreadyRunning();
  }
  return { deployment: row, runId };
}

/** Starts a run in a transaction of its own. */
export function startRun(
  db: Db,
  id: string,
  kind: RunKind,
  actor: string,
  plan: PlanRun,
): Promise<{ deployment: DeploymentRow; runId: string }> {
  return db.transaction((trx) => startRunIn(trx, id, kind, actor, plan));
}

/** A failure that ends a run: step, stable code, message. */
export interface Failure {
  step: string;
  code: string;
  message: string;
}

/** The failure of a run at the step it was in (`queued` before its job ran). */
export function failureAt(row: DeploymentRow, code: string, message: string): Failure {
  return { step: row.progress?.step ?? row.run_stage ?? 'queued', code, message };
}

/**
 * Ends the active run of a locked row as failed (a stop run leaves the status as it was),
 * recording step, code, message and the stage result. Null when `guard` no longer holds.
 */
export async function endRunFailed(
  trx: Db,
  current: DeploymentRow,
  guard: (q: Knex.QueryBuilder) => void,
  input: { failure: Failure; actor: string; resultColumn?: string; result?: StageResult },
): Promise<DeploymentRow | null> {
  const { failure } = input;
  const { code } = failure;
  const { run_stage: stage, run_kind: runKind } = current;
  return writeRun(trx, current, guard, {
    to: current.run_kind === 'stop' ? current.status : 'failed',
    stage,
    actor: input.actor,
    statusMessage: `${failure.step}: ${code}`,
    statusCode: code,
    patch: {
      ...END_RUN,
      stage_gen: current.stage_gen + 1,
      error_step: failure.step,
      error_code: failure.code,
      error_message: failure.message,
      progress: null,
      ...(input.resultColumn && input.result ? { [input.resultColumn]: input.result } : {}),
    },
    // messages are for people; readers (metrics, the CLI) use code and run_kind
    events: [
      { kind: 'stage_finished', message: `${stage} failed: ${code}`, stage, code },
      'status',
      {
        kind: 'run_ended',
        message: `${runKind} run failed: ${code}`,
        stage,
        code,
        run_kind: runKind,
      },
    ],
  });
}

/**
 * Cancel: a run whose job holds no live lease (queued, or its worker is gone) ends now; a
 * running one is flagged, and the worker holding it aborts within a heartbeat.
 */
export async function requestCancel(
  db: Db,
  id: string,
  actor: string,
): Promise<{ deployment: DeploymentRow; runId: string }> {
  return db.transaction(async (trx) => {
    const current = await lockRow(trx, id);
    if (!current) {
      throw notFound('deployment');
    }
    if (!isRunActive(current)) {
      throw invalidState(`no run is active; this deployment is ${current.status}`, {
        status: current.status,
      });
    }
    const runId = current.run_id as string;
    const same = (q: Knex.QueryBuilder) => q.where({ run_id: runId, stage_gen: current.stage_gen });
    if (!current.lease_live) {
      const message = `cancelled by ${actor} before its ${current.run_stage} job ran`;
      const failure = failureAt(current, 'cancelled', message);
      const row = await endRunFailed(trx, current, same, { failure, actor });
      return { deployment: row ?? current, runId };
    }
    if (current.cancel_requested_at) {
      return { deployment: current, runId };
    }
    const row = await writeRun(trx, current, same, {
      stage: current.run_stage,
      actor,
      patch: { cancel_requested_at: trx.fn.now(), cancel_actor: actor },
      events: [
        {
          kind: 'cancel_requested',
          message: `cancel requested by ${actor}`,
          stage: current.run_stage,
        },
      ],
    });
    return { deployment: row ?? current, runId };
  });
}
