/**
 * One webhook attempt: the stored body POSTed with a Stripe-style signature. Redirects are never
 * followed, the attempt has a time limit, and the response body is never read (only the status
 * code is kept), so a webhook cannot be used to read what its URL answers.
 */
import { createHmac } from 'node:crypto';

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">` under the secret (its UTF-8 bytes). */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** What one attempt found: a status code when the receiver answered, else an error. */
export interface SendResult {
  ok: boolean;
  statusCode: number | null;
  error: string | null;
}

/** POSTs `body` to `url`; never throws. `signal` aborts it (shutdown). */
export async function sendWebhook(input: {
  url: string;
  body: string;
  secret: string;
  event: string;
  deliveryId: string;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<SendResult> {
  const t = Math.floor(Date.now() / 1000);
  const timeout = AbortSignal.timeout(input.timeoutMs);
  try {
    const res = await fetch(input.url, {
      method: 'POST',
      redirect: 'manual',
      signal: input.signal ? AbortSignal.any([timeout, input.signal]) : timeout,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'stagecoach-webhooks/1',
        'x-stagecoach-event': input.event,
        'x-stagecoach-delivery': input.deliveryId,
        'x-stagecoach-signature': signatureHeader(input.secret, input.body, t),
      },
      body: input.body,
    });
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) {
      return { ok: true, statusCode: res.status, error: null };
    }
    const error =
      res.status >= 300 && res.status < 400
        ? `redirect not followed (HTTP ${res.status})`
        : `HTTP ${res.status}`;
    return { ok: false, statusCode: res.status, error };
  } catch (err) {
    return { ok: false, statusCode: null, error: describe(err, input.timeoutMs) };
  }
}

/** A short, stable error text (fetch hides the reason in `cause`). */
function describe(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') {
    return `timed out after ${timeoutMs} ms`;
  }
  if (e.name === 'AbortError') {
    return 'aborted (worker shutting down)';
  }
  const reason = e.cause?.code ?? e.cause?.message ?? e.message;
  return `request failed: ${reason}`.slice(0, 300);
}
