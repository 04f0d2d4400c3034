/**
 * Stage leases: the worker running a stage holds the run's lease token and renews it; every
 * write it makes is fenced by that token, so a worker that lost its lease changes nothing.
 */
import type { Knex } from 'knex';
import type { Db } from '../db.js';
import type { Stage } from '../runs.js';
import type { Status } from '../status.js';
import type { DeploymentPatch, DeploymentRow, StageResult } from './deployments.js';
import { releaseSlots } from './host-slots.js';
import { endRunFailed, failureAt, type Failure } from './runs.js';
import { dbNowPlus, END_RUN, lockRow, writeRun } from './run-write.js';

export type ClaimOutcome =
  | { kind: 'claimed'; row: DeploymentRow; attempt: number; tookOver: boolean }
  | { kind: 'stale' | 'busy' | 'exhausted' | 'cancelled' };

/**
 * Takes the lease of a stage's job `gen` when it is free or expired. A takeover of an expired
 * lease counts an attempt (its worker was lost); past `maxAttempts` the run fails worker_lost.
 */
export async function claimStage(
  db: Db,
  input: {
    id: string;
    runId: string;
    stage: Stage;
    gen: number;
    token: string;
    leaseMs: number;
    from: readonly Status[];
    /** Status while the stage works; none: it stays as it is (stop). */
    running?: Status;
    maxAttempts: number;
    actor: string;
  },
): Promise<ClaimOutcome> {
  return db.transaction(async (trx) => {
    const cur = await lockRow(trx, input.id);
    if (
      !cur ||
      cur.run_id !== input.runId ||
      cur.run_kind === null ||
      cur.run_stage !== input.stage ||
      cur.stage_gen !== input.gen ||
      !input.from.includes(cur.status)
    ) {
      return { kind: 'stale' };
    }
    if (cur.lease_live) {
      return { kind: 'busy' };
    }
    const tookOver = cur.lease_token !== null;
    const attempts = cur.stage_attempts + (tookOver ? 1 : 0);
    const same = (q: Knex.QueryBuilder) => q.where({ run_id: input.runId, stage_gen: input.gen });
    if (cur.cancel_requested_at) {
      await endRunFailed(trx, cur, same, {
        failure: failureAt(cur, 'cancelled', `cancelled by ${cur.cancel_actor ?? 'api'}`),
        actor: cur.cancel_actor ?? 'api',
      });
      return { kind: 'cancelled' };
    }
    if (attempts >= input.maxAttempts) {
      await endRunFailed(trx, cur, same, {
        failure: failureAt(cur, 'worker_lost', lostMessage(input.stage, attempts)),
        actor: input.actor,
      });
      return { kind: 'exhausted' };
    }
    const row = await writeRun(trx, cur, same, {
      to: input.running,
      stage: input.stage,
      actor: input.actor,
      statusMessage: `${input.stage} started`,
      patch: {
        lease_token: input.token,
        lease_expires_at: dbNowPlus(trx, input.leaseMs),
        stage_attempts: attempts,
      },
      events: [
        'status',
        {
          kind: 'stage_started',
          message: `${input.stage} started (attempt ${attempts + 1}${tookOver ? ', after a lost worker' : ''})`,
          stage: input.stage,
        },
      ],
    });
    return row ? { kind: 'claimed', row, attempt: attempts + 1, tookOver } : { kind: 'stale' };
  });
}

const lostMessage = (stage: string, attempts: number) =>
  `the worker running ${stage} was lost (${attempts} attempt${attempts === 1 ? '' : 's'}: the lease expired without being renewed)`;

/**
 * Renews a live lease (and the host slots held under it): `lost` once it expired or another
 * worker holds the run, `cancel` when a cancel was requested.
 */
export async function renewLease(
  db: Db,
  id: string,
  token: string,
  leaseMs: number,
): Promise<'ok' | 'lost' | 'cancel'> {
  const rows = (await db('deployments')
    .where({ id, lease_token: token })
    .andWhere('lease_expires_at', '>', db.fn.now())
    .update({ lease_expires_at: dbNowPlus(db, leaseMs) })
    .returning(['cancel_requested_at'])) as { cancel_requested_at: Date | null }[];
  if (!rows.length) {
    return 'lost';
  }
  await db('host_slots')
    .where({ token })
    .update({ expires_at: dbNowPlus(db, leaseMs) });
  return rows[0].cancel_requested_at ? 'cancel' : 'ok';
}

/** How a stage ends for the worker holding its lease. */
export type StageEnd =
  | { kind: 'next'; stage: Stage; to?: Status; patch: DeploymentPatch; message: string }
  | { kind: 'done'; to: Status; patch: DeploymentPatch; message: string }
  | { kind: 'requeue'; countAttempt: boolean; delayMs: number; message: string }
  | { kind: 'failed'; failure: Failure; resultColumn?: string; result?: StageResult };

/**
 * Ends the stage for the lease holder and gives back the host slots it held under the lease, in
 * one transaction: the next stage's job, enqueued right after the commit, finds the host free
 * (it would otherwise poll for the slot). Null when the lease was lost (nothing written).
 */
export async function endStage(
  db: Db,
  id: string,
  token: string,
  stage: Stage,
  end: StageEnd,
  actor: string,
): Promise<DeploymentRow | null> {
  return db.transaction(async (trx) => {
    const cur = await lockRow(trx, id);
    if (!cur || cur.lease_token !== token) {
      return null;
    }
    const fenced = (q: Knex.QueryBuilder) => q.where({ lease_token: token });
    const row = await applyEnd(trx, cur, fenced, stage, end, actor);
    await releaseSlots(trx, token);
    return row;
  });
}

/** Applies a stage end to a locked row under `guard` (lease token, or an expired generation). */
export async function applyEnd(
  trx: Db,
  cur: DeploymentRow,
  guard: (q: Knex.QueryBuilder) => void,
  stage: Stage,
  end: StageEnd,
  actor: string,
): Promise<DeploymentRow | null> {
  const gen = cur.stage_gen + 1;
  const lease = { lease_token: null, lease_expires_at: null };
  switch (end.kind) {
    case 'failed':
      return endRunFailed(trx, cur, guard, { ...end, actor });
    case 'requeue':
      return writeRun(trx, cur, guard, {
        stage,
        actor,
        patch: {
          ...lease,
          stage_gen: gen,
          stage_attempts: cur.stage_attempts + (end.countAttempt ? 1 : 0),
        },
        events: [{ kind: 'stage_requeued', message: end.message, stage }],
        enqueue: { stage, gen, delayMs: end.delayMs },
      });
    case 'next':
      return writeRun(trx, cur, guard, {
        to: end.to,
        stage,
        actor,
        statusMessage: end.message,
        patch: { ...end.patch, ...lease, run_stage: end.stage, stage_gen: gen, stage_attempts: 0 },
        events: [{ kind: 'stage_finished', message: end.message, stage }, 'status'],
        enqueue: { stage: end.stage, gen },
      });
    case 'done':
      return writeRun(trx, cur, guard, {
        to: end.to,
        stage,
        actor,
        statusMessage: end.message,
        patch: { ...end.patch, ...END_RUN, stage_gen: gen },
        events: [
          { kind: 'stage_finished', message: end.message, stage },
          'status',
          {
            kind: 'run_ended',
            message: `${cur.run_kind} run ended: ${end.to}`,
            stage,
            run_kind: cur.run_kind,
          },
        ],
      });
  }
}
