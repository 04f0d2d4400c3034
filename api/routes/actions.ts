/** Action routes: execute, retry, redeploy, stop, cancel (inspect lives in ./inspect.ts). */
import { Router } from 'express';
import { actor } from '../actor.js';
import { z } from 'zod';
import type { ApiDeps } from '../deps.js';
import { parseOr } from '../errors.js';
import { cancel, startAction, type Started } from '../run-control.js';
import { deploymentView } from '../view.js';

export const rebuildBody = z.strictObject({ force_rebuild: z.boolean().default(false) });
export const stopBody = z.strictObject({ stop_resources: z.boolean().default(false) });
export const emptyBody = z.strictObject({});

/** `202 {deployment, run_id}` for a started (or cancelled) run. */
export const accepted = (s: Started) => ({
  deployment: deploymentView(s.deployment),
  run_id: s.runId,
});

/** The action routes. */
export function actionRoutes(deps: ApiDeps): Router {
  const r = Router();
  const body = <T extends z.ZodType>(schema: T, raw: unknown) =>
    parseOr(schema, raw ?? {}, 'invalid_request', 'request body');

  for (const kind of ['execute', 'retry', 'redeploy'] as const) {
    r.post(`/deployments/:id/${kind}`, async (req, res) => {
      const { force_rebuild } = body(rebuildBody, req.body);
      res
        .status(202)
        .json(accepted(await startAction(deps, req.params.id, kind, force_rebuild, actor(res))));
    });
  }

  r.post('/deployments/:id/stop', async (req, res) => {
    const { stop_resources } = body(stopBody, req.body);
    res
      .status(202)
      .json(accepted(await startAction(deps, req.params.id, 'stop', stop_resources, actor(res))));
  });

  r.post('/deployments/:id/cancel', async (req, res) => {
    body(emptyBody, req.body);
    res.status(202).json(accepted(await cancel(deps, req.params.id, actor(res))));
  });

  return r;
}
