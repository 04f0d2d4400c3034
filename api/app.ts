/** createApp(deps): the Express app, without listening (tests use it directly). */
import express, { type Express } from 'express';
import { pingDb } from '../shared/db.js';
import { withTimeout } from '../shared/infra.js';
import { authenticate, authorize } from './auth.js';
import { boardRoutes } from './board.js';
import { dashboard } from './dashboard/routes.js';
import type { ApiDeps } from './deps.js';
import { errorHandler, notFoundRoute } from './errors.js';
import { hostCheck } from './host-check.js';
import { requireJson } from './json-only.js';
import { metricsRoute } from './metrics/route.js';
import { openApiRoute } from './openapi.js';
import { rateLimiter } from './rate-limit.js';
import { actionRoutes } from './routes/actions.js';
import { deploymentRoutes } from './routes/deployments.js';
import { eventRoutes, tokenFromQuery } from './routes/events.js';
import { inspectRoutes } from './routes/inspect.js';
import { releaseRoutes } from './routes/releases.js';
import { tokenRoutes } from './routes/tokens.js';
import { webhookRoutes } from './routes/webhooks.js';

const BOARD_PATH = '/admin/queues';

/**
 * Builds the app: the Host check, health probes, Bull Board, the v1 API, and the error
 * middleware. Bull Board and /api/v1 sit behind one guard: who is calling (authenticate), the
 * rate limit, then 401/403 (authorize); /api/v1 also requires JSON for state changes.
 */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(hostCheck(deps.config));
  app.use(express.json({ limit: '1mb' }));

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/readyz', async (_req, res) => {
    // a hung server makes a ping wait forever; 1.5 s per ping keeps the answer under 2 s
    const bounded = (p: Promise<boolean>, what: string) =>
      withTimeout(p, 1500, what).catch(() => false);
    const [database, queues] = await Promise.all([
      bounded(pingDb(deps.db), 'database'),
      bounded(deps.queues.ping(), 'queue backend'),
    ]);
    res.status(database && queues ? 200 : 503).json({ ok: database && queues, database, queues });
  });
  // Prometheus: its own token (METRICS_TOKEN) or loopback only, outside the user-token guard
  app.get('/metrics', metricsRoute(deps));

  // the API's shape, public like its README: client generators and doc viewers fetch it
  // without a token, and it holds no data
  app.get('/api/v1/openapi.json', openApiRoute);
  // the dashboard's pages and scripts: public too; the data they show comes from /api/v1
  app.use(dashboard());

  // EventSource sends no headers: its `?access_token=` becomes the header, cut from the URL
  app.use(tokenFromQuery);
  // one limiter instance for both mounts: a token's requests share one count
  const auth = [authenticate(deps), rateLimiter(deps.config.RATE_LIMIT_PER_MINUTE), authorize];
  app.use(BOARD_PATH, auth, boardRoutes(deps.queues, BOARD_PATH));

  app.use(
    '/api/v1',
    auth,
    requireJson,
    tokenRoutes(deps),
    deploymentRoutes(deps),
    inspectRoutes(deps),
    actionRoutes(deps),
    releaseRoutes(deps),
    eventRoutes(deps),
    webhookRoutes(deps),
  );
  app.use(notFoundRoute);
  app.use(errorHandler(deps.logger));
  return app;
}
