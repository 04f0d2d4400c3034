/** createApp(deps): the Express app, without listening (tests use it directly). */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type Express } from 'express';
import { pingDb } from '../shared/db.js';
import { withTimeout } from '../shared/infra.js';
import { QUEUE_NAMES } from '../shared/queues.js';
import { requireToken } from './auth.js';
import type { ApiDeps } from './deps.js';
import { errorHandler, notFoundRoute } from './errors.js';
import { actionRoutes } from './routes/actions.js';
import { deploymentRoutes } from './routes/deployments.js';
import { inspectRoutes } from './routes/inspect.js';

const BOARD_PATH = '/admin/queues';

/** Builds the app: health probes, Bull Board, the v1 API, and the error middleware. */
export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
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

  const board = new ExpressAdapter();
  board.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: QUEUE_NAMES.map((n) => new BullMQAdapter(deps.queues.queue(n))),
    serverAdapter: board,
  });
  const auth = requireToken(deps.config.API_TOKEN);
  app.use(BOARD_PATH, auth, board.getRouter());

  app.use('/api/v1', auth, deploymentRoutes(deps), inspectRoutes(deps), actionRoutes(deps));
  app.use(notFoundRoute);
  app.use(errorHandler(deps.logger));
  return app;
}
