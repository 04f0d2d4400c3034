/**
 * The delivery loop every worker process runs: claims due webhook deliveries (SKIP LOCKED, so
 * processes share the work), sends them, records each attempt, and schedules retries with
 * exponential backoff. No BullMQ queue: the delivery rows are the queue.
 */
import type { Config } from '../shared/config.js';
import {
  claimDeliveries,
  finishAttempt,
  type ClaimedDelivery,
} from '../shared/repositories/webhook-deliveries.js';
import type { StageContext } from './context.js';
import { sendWebhook } from './webhook-send.js';

const BATCH = 20;
/** A claim outlives the attempt's time limit by this much before another worker may retry it. */
const LEASE_MARGIN_MS = 30_000;
const MAX_BACKOFF_MS = 3_600_000;

/** The wait after failed attempt `attempt` (1-based), or null when none is left. */
export function retryDelayMs(config: Config, attempt: number): number | null {
  if (attempt >= config.WEBHOOK_MAX_ATTEMPTS) {
    return null;
  }
  return Math.min(config.WEBHOOK_BACKOFF_MS * 2 ** (attempt - 1), MAX_BACKOFF_MS);
}

/** Sends one claimed delivery and records the attempt. */
async function deliver(ctx: StageContext, d: ClaimedDelivery, signal: AbortSignal): Promise<void> {
  const started = Date.now();
  let secret: string | null = null;
  try {
    secret = ctx.secrets ? ctx.secrets.open(d.secret_sealed) : null;
  } catch {
    secret = null;
  }
  const result = secret
    ? await sendWebhook({
        url: d.url,
        body: d.body,
        secret,
        event: d.event,
        deliveryId: d.id,
        timeoutMs: ctx.config.WEBHOOK_TIMEOUT_MS,
        signal,
      })
    : {
        ok: false,
        statusCode: null,
        error: 'secret_unreadable: the signing secret cannot be opened',
      };
  await finishAttempt(ctx.db, d, {
    ...result,
    durationMs: Date.now() - started,
    retryInMs: result.ok ? null : retryDelayMs(ctx.config, d.attempts),
  });
  if (!result.ok) {
    ctx.logger.warn(
      { webhook: d.webhook_id, delivery: d.id, attempt: d.attempts, error: result.error },
      'webhook delivery failed',
    );
  }
}

/** Delivers everything due now (batch after batch); returns how many attempts were made. */
export async function deliverDue(ctx: StageContext, signal: AbortSignal): Promise<number> {
  const leaseMs = ctx.config.WEBHOOK_TIMEOUT_MS + LEASE_MARGIN_MS;
  let total = 0;
  while (!signal.aborted) {
    const batch = await claimDeliveries(ctx.db, BATCH, leaseMs);
    // webhooks in parallel, each one's deliveries in order (a retry can still overtake)
    const byWebhook = new Map<string, ClaimedDelivery[]>();
    for (const d of batch.sort((a, b) => Number(a.id) - Number(b.id))) {
      byWebhook.set(d.webhook_id, [...(byWebhook.get(d.webhook_id) ?? []), d]);
    }
    await Promise.all(
      [...byWebhook.values()].map(async (list) => {
        for (const d of list) {
          await deliver(ctx, d, signal);
        }
      }),
    );
    total += batch.length;
    if (batch.length < BATCH) {
      break;
    }
  }
  return total;
}
