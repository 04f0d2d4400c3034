/**
 * Webhook deliveries: one row per event and matching webhook, inserted in the transaction of
 * the change (a crash loses none), claimed by the workers' delivery loop (`FOR UPDATE SKIP
 * LOCKED`, then a lease in `next_attempt_at`), and finished per attempt.
 */
import type { Db } from '../db.js';
import type { Status } from '../status.js';
import type { DeploymentHealth, DeploymentRow } from './deployments.js';

export type WebhookEventName = 'deployment.status' | 'deployment.health';

/** The JSON every webhook of the deployment receives (and that is signed). */
export interface WebhookEvent {
  event: WebhookEventName;
  deployment_id: string;
  from: Status | string | null;
  to: Status | string;
  at: string;
  run_id?: string;
  error_code?: string;
}

/** Queues `event` for the deployment's own webhooks and the global ones (one statement). */
export async function enqueueWebhookEvent(trx: Db, event: WebhookEvent): Promise<void> {
  await trx.raw(
    `insert into ?? (webhook_id, deployment_id, event, body)
     select id, ?, ?, ? from ?? where deployment_id is null or deployment_id = ?`,
    [
      'webhook_deliveries',
      event.deployment_id,
      event.event,
      JSON.stringify(event),
      'webhooks',
      event.deployment_id,
    ],
  );
}

/** The `deployment.status` event of a write that moved `from` → `row.status`. */
export function statusEvent(from: Status, row: DeploymentRow): WebhookEvent {
  return {
    event: 'deployment.status',
    deployment_id: row.id,
    from,
    to: row.status,
    at: new Date(row.updated_at).toISOString(),
    ...(row.run_id ? { run_id: row.run_id } : {}),
    ...(row.status === 'failed' && row.error_code ? { error_code: row.error_code } : {}),
  };
}

/** The `deployment.health` event of a health state change (`from` null: the first verdict). */
export function healthEvent(
  deploymentId: string,
  from: string | null,
  health: DeploymentHealth,
  runId: string | null,
): WebhookEvent {
  return {
    event: 'deployment.health',
    deployment_id: deploymentId,
    from,
    to: health.state,
    at: health.checked_at,
    ...(runId ? { run_id: runId } : {}),
  };
}

/** A claimed delivery with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  webhook_id: string;
  event: WebhookEventName;
  body: string;
  /** This attempt's number (counted at the claim, so a crash mid-send uses one up). */
  attempts: number;
  url: string;
  secret_sealed: string;
}

/**
 * Claims up to `limit` due deliveries: counts the attempt and leases the row for `leaseMs`
 * (past it, a worker that died mid-send has its delivery claimed again).
 */
export async function claimDeliveries(
  db: Db,
  limit: number,
  leaseMs: number,
): Promise<ClaimedDelivery[]> {
  const { rows } = (await db.raw(
    `update ?? d set attempts = d.attempts + 1,
       next_attempt_at = now() + make_interval(secs => ?)
     from ?? w
     where w.id = d.webhook_id and d.id in (
       select id from ?? where status = 'pending' and next_attempt_at <= now()
       order by next_attempt_at, id limit ? for update skip locked)
     returning d.id, d.webhook_id, d.event, d.body, d.attempts, w.url, w.secret_sealed`,
    ['webhook_deliveries', leaseMs / 1000, 'webhooks', 'webhook_deliveries', limit],
  )) as { rows: ClaimedDelivery[] };
  return rows.map((r) => ({ ...r, id: String(r.id) }));
}

/** How one attempt ended. */
export interface AttemptOutcome {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  /** Null: no attempt left, the delivery fails for good. */
  retryInMs: number | null;
}

/**
 * Records an attempt on the claimed delivery (fenced by its attempt number, so a delivery
 * re-claimed after its lease ran out is not finished twice).
 */
export async function finishAttempt(
  db: Db,
  d: Pick<ClaimedDelivery, 'id' | 'attempts'>,
  o: AttemptOutcome,
): Promise<void> {
  const entry = {
    attempt: d.attempts,
    at: new Date().toISOString(),
    status_code: o.statusCode,
    error: o.error,
    duration_ms: o.durationMs,
  };
  const status = o.ok ? 'delivered' : o.retryInMs === null ? 'failed' : 'pending';
  await db('webhook_deliveries')
    .where({ id: d.id, attempts: d.attempts, status: 'pending' })
    .update({
      status,
      last_status_code: o.statusCode,
      last_error: o.error,
      attempt_log: db.raw('attempt_log || ?::jsonb', [JSON.stringify([entry])]),
      delivered_at: o.ok ? db.fn.now() : null,
      ...(status === 'pending'
        ? { next_attempt_at: db.raw('now() + make_interval(secs => ?)', [o.retryInMs! / 1000]) }
        : {}),
    });
}

/** A delivery as the API shows it. */
export interface DeliveryInfo {
  id: string;
  event: WebhookEventName;
  deployment_id: string;
  status: 'pending' | 'delivered' | 'failed';
  status_code: number | null;
  attempts: number;
  last_error: string | null;
  delivered_at: Date | null;
  next_attempt_at: Date | null;
  created_at: Date;
  attempt_log: { attempt: number; at: string; status_code: number | null; error: string | null }[];
}

/** A webhook's deliveries, newest first. */
export async function listDeliveries(
  db: Db,
  webhookId: string,
  limit: number,
): Promise<DeliveryInfo[]> {
  const rows = (await db('webhook_deliveries')
    .where({ webhook_id: webhookId })
    .orderBy('id', 'desc')
    .limit(limit)) as (Omit<DeliveryInfo, 'status_code'> & { last_status_code: number | null })[];
  return rows.map((r) => ({
    id: String(r.id),
    event: r.event,
    deployment_id: r.deployment_id,
    status: r.status,
    status_code: r.last_status_code,
    attempts: r.attempts,
    last_error: r.last_error,
    delivered_at: r.delivered_at,
    next_attempt_at: r.status === 'pending' ? r.next_attempt_at : null,
    created_at: r.created_at,
    attempt_log: r.attempt_log,
  }));
}
