/** Deployment rows: reads, creation, and every status write (through `transition`). */
import type { Db } from '../db.js';
import { AppError } from '../errors.js';
import { canTransition, type Status } from '../status.js';
import { insertEvent } from './events.js';

export interface StepResult {
  id: string;
  title: string;
  ok: boolean;
  skipped?: boolean;
  started_at: string;
  duration_ms: number;
  output_tail: string;
}

export interface StageResult {
  ok: boolean;
  steps: StepResult[];
  error: { step: string; code: string; message: string } | null;
  [extra: string]: unknown;
}

export interface DeploymentRow {
  id: string;
  name: string;
  scenario: string;
  status: Status;
  manifest: Record<string, unknown>;
  target_key: string;
  ssh_host_key: string | null;
  bundle: { sha256: string; size_bytes: number } | null;
  setup_result: StageResult | null;
  deploy_result: StageResult | null;
  inspect_result: Record<string, unknown> | null;
  stop_result: StageResult | null;
  error_step: string | null;
  error_code: string | null;
  error_message: string | null;
  run_id: string | null;
  progress: { stage: string; step: string; percent: number } | null;
  created_at: Date;
  updated_at: Date;
  last_deployed_at: Date | null;
  last_inspected_at: Date | null;
  deleted_at: Date | null;
}

export type DeploymentPatch = Partial<
  Omit<DeploymentRow, 'id' | 'status' | 'created_at' | 'updated_at' | 'deleted_at'>
>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const JSON_COLUMNS = [
  'manifest',
  'bundle',
  'setup_result',
  'deploy_result',
  'inspect_result',
  'stop_result',
  'progress',
];

/** True when the string is a well-formed uuid (anything else cannot be an id). */
export const isUuid = (value: string): boolean => UUID.test(value);

function encodePatch(patch: DeploymentPatch): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    out[key] = JSON_COLUMNS.includes(key) && value !== null ? JSON.stringify(value) : value;
  }
  return out;
}

/** Creates a `pending` deployment and its first history event, atomically. */
export async function createDeployment(
  db: Db,
  input: { name: string; scenario: string; manifest: Record<string, unknown>; target_key: string },
  actor: string,
): Promise<DeploymentRow> {
  return db.transaction(async (trx) => {
    const [row] = await trx('deployments')
      .insert(encodePatch({ ...input, progress: null }))
      .returning('*')
      .catch((err: { code?: string }) => {
        throw err.code === '23505'
          ? new AppError(
              'workdir_in_use',
              'another deployment already uses this target workdir',
              409,
            )
          : err;
      });
    await insertEvent(trx, {
      deployment_id: row.id,
      run_id: null,
      from_status: null,
      to_status: 'pending',
      stage: null,
      message: 'created',
      actor,
    });
    return row as DeploymentRow;
  });
}

/** The live (not deleted) deployment with this id, or null. */
export async function findDeployment(db: Db, id: string): Promise<DeploymentRow | null> {
  if (!isUuid(id)) {
    return null;
  }
  const row = await db('deployments').where({ id }).whereNull('deleted_at').first();
  return (row as DeploymentRow | undefined) ?? null;
}

/** The live deployment that uses this target key, or null. */
export async function findByTarget(db: Db, targetKey: string): Promise<DeploymentRow | null> {
  const row = await db('deployments')
    .where({ target_key: targetKey })
    .whereNull('deleted_at')
    .first();
  return (row as DeploymentRow | undefined) ?? null;
}

/** Writes non-status fields, only while `runId` is still the deployment's run. */
export async function patchDeployment(
  db: Db,
  id: string,
  runId: string | null,
  patch: DeploymentPatch,
): Promise<boolean> {
  const query = db('deployments').where({ id });
  if (runId) {
    query.andWhere({ run_id: runId });
  }
  const count = await query.update({ ...encodePatch(patch), updated_at: db.fn.now() });
  return count > 0;
}

export interface TransitionInput {
  id: string;
  from: readonly Status[];
  to: Status;
  /** The run the caller acts for; the write is refused when another run took over. */
  runId?: string | null;
  /** Starts a new run: sets run_id without checking the current one. */
  newRunId?: string;
  stage: string | null;
  message: string;
  actor: string;
  patch?: DeploymentPatch;
}

/**
 * The one way to change a status: checks the edge, the expected current status and run,
 * writes the row and appends the history event in one transaction. Returns null on a lost
 * race (status or run no longer what the caller expected).
 */
export async function transition(db: Db, input: TransitionInput): Promise<DeploymentRow | null> {
  return db.transaction(async (trx) => {
    const current = (await trx('deployments')
      .where({ id: input.id })
      .whereNull('deleted_at')
      .forUpdate()
      .first()) as DeploymentRow | undefined;
    if (!current || !input.from.includes(current.status)) {
      return null;
    }
    if (
      input.runId !== undefined &&
      input.newRunId === undefined &&
      current.run_id !== input.runId
    ) {
      return null;
    }
    const same = current.status === input.to;
    if (!same && !canTransition(current.status, input.to)) {
      throw new Error(`illegal transition ${current.status} → ${input.to}`);
    }
    const runId = input.newRunId ?? current.run_id;
    const [row] = await trx('deployments')
      .where({ id: input.id })
      .update({
        ...encodePatch(input.patch ?? {}),
        status: input.to,
        run_id: runId,
        updated_at: trx.fn.now(),
      })
      .returning('*');
    if (!same) {
      await insertEvent(trx, {
        deployment_id: input.id,
        run_id: runId,
        from_status: current.status,
        to_status: input.to,
        stage: input.stage,
        message: input.message,
        actor: input.actor,
      });
    }
    return row as DeploymentRow;
  });
}

/** Gives the deployment a new run id (no status change) while it is in one of `statuses`. */
export async function claimRun(
  db: Db,
  id: string,
  statuses: readonly Status[],
  runId: string,
): Promise<boolean> {
  const count = await db('deployments')
    .where({ id })
    .whereNull('deleted_at')
    .whereIn('status', statuses)
    .update({ run_id: runId, updated_at: db.fn.now() });
  return count > 0;
}

/** Marks a deployment deleted; its history stays. False when missing or a run is active. */
export async function softDeleteDeployment(db: Db, id: string): Promise<boolean> {
  const count = await db('deployments')
    .where({ id })
    .whereNull('deleted_at')
    .update({ deleted_at: db.fn.now(), updated_at: db.fn.now() });
  return count > 0;
}
