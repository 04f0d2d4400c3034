/** The releases a deployment's target holds, and the rollback to one of them. */
import { Router } from 'express';
import { z } from 'zod';
import { listReleases, type ReleaseRow } from '../../shared/repositories/releases.js';
import { actor } from '../actor.js';
import type { ApiDeps } from '../deps.js';
import { parseOr } from '../errors.js';
import { startAction } from '../run-control.js';
import { accepted } from './actions.js';
import { loadDeployment } from './deployments.js';

export const rollbackBody = z.strictObject({
  sha256: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'a sha256: 64 lowercase hex digits')
    .optional(),
});

/** A release as the API shows it; `current` when it is the one serving now. */
const releaseView = (r: ReleaseRow, current: string | null) => ({
  sha256: r.sha256,
  created_at: r.created_at,
  deployed_at: r.deployed_at,
  current: r.sha256 === current,
});

/** The release routes: list, rollback. */
export function releaseRoutes(deps: ApiDeps): Router {
  const r = Router();

  r.get('/deployments/:id/releases', async (req, res) => {
    const d = await loadDeployment(deps, req.params.id);
    const releases = await listReleases(deps.db, d.id);
    res.json({ releases: releases.map((x) => releaseView(x, d.current_release)) });
  });

  r.post('/deployments/:id/rollback', async (req, res) => {
    const body = parseOr(rollbackBody, req.body ?? {}, 'invalid_request', 'request body');
    const started = await startAction(deps, req.params.id, 'rollback', body.sha256, actor(res));
    res.status(202).json(accepted(started));
  });

  return r;
}
