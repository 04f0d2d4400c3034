/**
 * Live events over SSE: GET /deployments/:id/events (history events, log lines and progress of
 * one deployment, resumable with Last-Event-ID) and GET /events (the dashboard's feed).
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { AppError, notFound } from '../../shared/errors.js';
import { deploymentState, readAfter, runStart } from '../../shared/repositories/live-events.js';
import type { ApiDeps } from '../deps.js';
import { DeploymentStream, isAtRest, parseCursor } from '../events/deployment-stream.js';
import { GlobalFeed } from '../events/global-feed.js';
import { connectionStringOf, EventHub } from '../events/hub.js';
import { openSse } from '../events/sse.js';

/** How long a browser's EventSource waits before reconnecting. */
const RETRY_MS = 2000;
const EVENT_PATHS = /^\/api\/v1\/(deployments\/[^/]+\/)?events$/;

/**
 * EventSource cannot send headers: on the two event routes a GET may carry its token as
 * `?access_token=`. It is moved into the Authorization header and cut from the URL before
 * anything else (authentication, logs, error messages) sees the request.
 */
export const tokenFromQuery: RequestHandler = (req, _res, next) => {
  if (req.method === 'GET' && EVENT_PATHS.test(req.path)) {
    const url = new URL(req.url, 'http://x');
    const token = url.searchParams.get('access_token');
    if (token !== null) {
      url.searchParams.delete('access_token');
      req.url = url.pathname + url.search;
      req.originalUrl = req.url;
      req.headers.authorization ??= `Bearer ${token}`;
    }
  }
  next();
};

/** Writes a comment every `ms` (proxies and browsers keep the connection) and calls `tick`. */
function keepalive(res: Response, ms: number, tick: () => void): () => void {
  const timer = setInterval(() => {
    res.write(': keepalive\n\n');
    tick();
  }, ms);
  return () => clearInterval(timer);
}

/** The routes; `deps.events` is the process's hub (one is made from `deps.db` without it). */
export function eventRoutes(deps: ApiDeps): Router {
  const r = Router();
  const hub = deps.events ?? new EventHub(connectionStringOf(deps.db), deps.logger);
  const feed = new GlobalFeed(hub, deps.db, deps.logger);
  const keepaliveMs = deps.config.SSE_KEEPALIVE_SECONDS * 1000;

  r.get('/deployments/:id/events', async (req: Request<{ id: string }>, res) => {
    const d = await deploymentState(deps.db, req.params.id);
    if (!d || d.deleted_at) {
      throw notFound('deployment');
    }
    const lastId = req.get('last-event-id');
    const cursor = lastId === undefined ? await runStart(deps.db, d) : parseCursor(lastId);
    if (!cursor) {
      throw new AppError('invalid_last_event_id', 'Last-Event-ID is not one this API issued', 400);
    }
    // a reconnect to a deployment at rest with nothing new: 204 tells EventSource to stop
    if (
      lastId !== undefined &&
      isAtRest(d) &&
      !(await readAfter(deps.db, d.id, cursor, 1)).items.length
    ) {
      res.status(204).end();
      return;
    }
    openSse(res, RETRY_MS);
    const stream = new DeploymentStream(deps.db, res, d.id, cursor, deps.logger);
    const unsubscribe = hub.subscribe(d.id, stream);
    const stopKeepalive = keepalive(res, keepaliveMs, () => stream.wake(null, 'tick'));
    stream.onDone = () => {
      stopKeepalive();
      unsubscribe();
    };
    res.on('close', () => stream.closed());
    stream.wake(null, 'connected');
  });

  r.get('/events', (_req, res) => {
    openSse(res, RETRY_MS);
    const remove = feed.add(res);
    const stopKeepalive = keepalive(res, keepaliveMs, () => undefined);
    res.on('close', () => {
      stopKeepalive();
      remove();
    });
  });

  return r;
}
