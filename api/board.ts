/**
 * Bull Board at /admin/queues: writable only for a caller with full access (API_TOKEN or a
 * named token that is not read-only). With no token configured, and for read-only tokens, it
 * is Bull Board's read-only mode, and its write routes are refused here as well.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { RequestHandler } from 'express';
import { AppError } from '../shared/errors.js';
import { QUEUE_NAMES, type QueueRegistry } from '../shared/queues.js';
import { principalOf, SAFE_METHODS } from './auth.js';

/** One board over every queue; `readOnlyMode` hides its buttons and refuses its queue actions. */
function boardRouter(queues: QueueRegistry, basePath: string, readOnlyMode: boolean) {
  const adapter = new ExpressAdapter();
  adapter.setBasePath(basePath);
  createBullBoard({
    queues: QUEUE_NAMES.map((n) => new BullMQAdapter(queues.queue(n), { readOnlyMode })),
    serverAdapter: adapter,
  });
  return adapter.getRouter() as RequestHandler;
}

/**
 * The dashboard, mounted after `authenticate`/`authorize`: the writable board for full access,
 * otherwise the read-only board behind a 403 `forbidden` for anything but GET/HEAD/OPTIONS
 * (Bull Board's own pause-all and resume-all answer 200 in read-only mode, doing nothing).
 */
export function boardRoutes(queues: QueueRegistry, basePath: string): RequestHandler {
  const writable = boardRouter(queues, basePath, false);
  const readOnly = boardRouter(queues, basePath, true);
  return (req, res, next) => {
    const p = principalOf(res);
    if (p && p.kind !== 'open' && !p.readOnly) {
      writable(req, res, next);
      return;
    }
    if (!SAFE_METHODS.has(req.method)) {
      next(
        new AppError(
          'forbidden',
          'the dashboard is read-only until a token is configured (API_TOKEN or npm run token)',
          403,
        ),
      );
      return;
    }
    readOnly(req, res, next);
  };
}
