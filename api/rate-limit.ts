/**
 * RATE_LIMIT_PER_MINUTE per token, or per client address without one. The counts live in this
 * API process's memory: each API process keeps its own, and a restart starts them afresh.
 */
import type { RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { principalOf } from './auth.js';

/** The bucket a request counts against: its token, or its client address (IPv6 by /56). */
function bucketOf(req: Parameters<RequestHandler>[0], res: Parameters<RequestHandler>[1]): string {
  const p = principalOf(res);
  if (p?.kind === 'token') {
    return `token:${p.name}`;
  }
  if (p?.kind === 'api_token') {
    return 'api_token';
  }
  return `ip:${ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? '')}`;
}

/**
 * The limiter, to be placed after `authenticate` (so a token is its own bucket) and before
 * `authorize` (so refused attempts count too). Over the limit: 429 `rate_limited` with
 * `Retry-After` (seconds until the window resets). 0 turns it off.
 */
export function rateLimiter(perMinute: number): RequestHandler {
  if (perMinute === 0) {
    return (_req, _res, next) => next();
  }
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    keyGenerator: bucketOf,
    handler: (_req, res) => {
      res.status(429).json({
        error: {
          code: 'rate_limited',
          message: `more than ${perMinute} requests in a minute; retry after ${res.get('retry-after') ?? 60} s`,
        },
      });
    },
  });
}
