/**
 * GET /metrics for Prometheus, outside /api/v1 (no user token, no JSON). With METRICS_TOKEN
 * set it needs `Authorization: Bearer <METRICS_TOKEN>`; without, only loopback clients may
 * scrape (the socket's address: X-Forwarded-For is never trusted here).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import { AppError } from '../../shared/errors.js';
import { bearerOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { createMetrics } from './collectors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** True for a client connected from this host. */
export function isLoopback(address: string | undefined): boolean {
  const a = (address ?? '').replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

/** Why a scrape is refused, or null when it may proceed. */
function refusal(req: Request, expected: Buffer | undefined): AppError | null {
  if (!expected) {
    return isLoopback(req.socket.remoteAddress)
      ? null
      : new AppError(
          'forbidden',
          'metrics are served to loopback clients only; set METRICS_TOKEN to scrape remotely',
          403,
        );
  }
  const given = bearerOf(req.get('authorization') ?? '');
  return given && timingSafeEqual(digest(given), expected)
    ? null
    : new AppError('unauthorized', 'missing or wrong metrics bearer token', 401);
}

/** The scrape endpoint: metrics in Prometheus' text format, or a JSON error. */
export function metricsRoute(deps: ApiDeps): RequestHandler {
  const expected = deps.config.METRICS_TOKEN ? digest(deps.config.METRICS_TOKEN) : undefined;
  const metrics = createMetrics(deps.db, deps.queues);
  return async (req, res) => {
    const refused = refusal(req, expected);
    if (refused) {
      if (refused.httpStatus === 401) {
        res.set('www-authenticate', 'Bearer');
      }
      throw refused;
    }
    const body = await metrics.scrape();
    res.set('content-type', metrics.contentType).set('cache-control', 'no-store').send(body);
  };
}
