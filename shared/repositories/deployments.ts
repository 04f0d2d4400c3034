/** Deployment rows: reads, creation and field patches; status writes live in ./runs.ts. */
import type { Db } from '../db.js';
import { AppError } from '../errors.js';
import type { RunKind, Stage } from '../runs.js';
import type { Status } from '../status.js';
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

/** What the health watch last found on the target of a `deployed` deployment. */
export interface DeploymentHealth {
  state: 'healthy' | 'degraded' | 'down';
  checked_at: string;
  services: { name: string; running: boolean }[];
  error?: string;
}

export interface DeploymentRow {
  id: string;
  name: string;
  scenario: string;
  status: Status;
  manifest: Record<string, unknown>;
  target_key: string;
  /** `<host>|<domain>` of the edge: one live owner each (null without an edge). */
  edge_key: string | null;
  ssh_host_key: string | null;
  /** Sealed manifest secrets by name (shared/secrets/box.ts); never shown by the API. */
  secrets: Record<string, string> | null;
  bundle: { sha256: string; size_bytes: number } | null;
  /** sha256 of the release serving now (shared/repositories/releases.ts); null before any. */
  current_release: string | null;
  setup_result: StageResult | null;
  deploy_result: StageResult | null;
  inspect_result: Record<string, unknown> | null;
  /** Last health watch verdict (workers/health-watch.ts); null until the first check. */
  health: DeploymentHealth | null;
  stop_result: StageResult | null;
  error_step: string | null;
  error_code: string | null;
  error_message: string | null;
  run_id: string | null;
  run_kind: RunKind | null;
  run_stage: Stage | null;
  run_options: { force_rebuild?: boolean; stop_resources?: boolean; release?: string } | null;
  stage_gen: number;
  stage_attempts: number;
  lease_token: string | null;
  lease_expires_at: Date | null;
  cancel_requested_at: Date | null;
  cancel_actor: string | null;
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
  'run_options',
  'secrets',
];

/** True when the string is a well-formed uuid (anything else cannot be an id). */
export const isUuid = (value: string): boolean => UUID.test(value);

/** JSON columns serialised for an update or insert. */
export function encodePatch(patch: DeploymentPatch): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patch)) {
    out[key] = JSON_COLUMNS.includes(key) && value !== null ? JSON.stringify(value) : value;
  }
  return out;
}

/** The 409 for a unique index of live deployments: its workdir or its edge domain. */
function uniqueViolation(constraint: string | undefined): AppError {
  return constraint === 'deployments_live_edge_key'
    ? new AppError(
        'domain_in_use',
        'another live deployment already serves this edge domain on this target host',
        409,
      )
    : new AppError('workdir_in_use', 'another deployment already uses this target workdir', 409);
}

/** Creates a `pending` deployment and its first history event, atomically. */
export async function createDeployment<T = DeploymentRow>(
  db: Db,
  input: {
    name: string;
    scenario: string;
    manifest: Record<string, unknown>;
    target_key: string;
    edge_key: string | null;
    secrets?: Record<string, string> | null;
  },
  actor: string,
  /** More work in the same transaction (e.g. starting a run): creation commits with it or not at all. */
  then: (trx: Db, row: DeploymentRow) => Promise<T> = async (_trx, row) => row as T,
): Promise<T> {
  return db.transaction(async (trx) => {
    const [row] = await trx('deployments')
      .insert(encodePatch({ ...input, progress: null }))
      .returning('*')
      .catch((err: { code?: string; constraint?: string }) => {
        throw err.code === '23505' ? uniqueViolation(err.constraint) : err;
      });
    await insertEvent(trx, {
      deployment_id: row.id,
      run_id: null,
      from_status: null,
      to_status: 'pending',
      stage: null,
      message: 'created',
      actor,
      kind: 'status',
    });
    return then(trx, row as DeploymentRow);
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

/**
 * Writes non-status fields for the worker holding the stage's lease (`leaseToken`); a worker
 * that lost its lease changes nothing. Null token: fields no run owns (inspect results).
 */
export async function patchDeployment(
  db: Db,
  id: string,
  leaseToken: string | null,
  patch: DeploymentPatch,
): Promise<boolean> {
  const query = db('deployments').where({ id });
  if (leaseToken) {
    query.andWhere({ lease_token: leaseToken });
  }
  const count = await query.update({ ...encodePatch(patch), updated_at: db.fn.now() });
  return count > 0;
}

/**
 * Marks a deployment deleted (its history stays), only while no run is active; a conditional
 * write, so a run claimed at the same moment wins or loses as a whole.
 */
export async function softDeleteDeployment(
  db: Db,
  id: string,
): Promise<'deleted' | 'missing' | 'running'> {
  const count = await db('deployments')
    .where({ id })
    .whereNull('deleted_at')
    .whereNull('run_kind')
    // a deleted deployment keeps its history, not its secrets
    .update({ deleted_at: db.fn.now(), updated_at: db.fn.now(), secrets: null });
  if (count > 0) {
    return 'deleted';
  }
  return (await findDeployment(db, id)) ? 'running' : 'missing';
}
