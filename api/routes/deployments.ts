/** CRUD and read routes of /api/v1/deployments. */
import { Router } from 'express';
import { z } from 'zod';
import { AppError, notFound } from '../../shared/errors.js';
import { decodeCursor, listDeployments } from '../../shared/repositories/deployment-list.js';
import {
  createDeployment,
  findDeployment,
  findByTarget,
  softDeleteDeployment,
  type DeploymentRow,
} from '../../shared/repositories/deployments.js';
import { listEvents } from '../../shared/repositories/events.js';
import { listLogs } from '../../shared/repositories/logs.js';
import { STATUSES } from '../../shared/status.js';
import { sealManifestSecrets } from '../../shared/secrets/manifest-secrets.js';
import { edgeKey, targetKey } from '../../shared/targets.js';
import type { ApiDeps } from '../deps.js';
import { parseOr } from '../errors.js';
import { executeIn } from '../run-control.js';
import { actor } from '../actor.js';
import { validateManifest } from '../validate-manifest.js';
import { deploymentView } from '../view.js';

export const createBody = z.strictObject({
  manifest: z.unknown().optional(),
  execute: z.boolean().default(false),
});
export const listQuery = z.object({
  status: z.enum(STATUSES).optional(),
  scenario: z.string().max(63).optional(),
  health: z.enum(['healthy', 'degraded', 'down']).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(512).optional(),
});
export const logsQuery = z.object({
  run_id: z.uuid().optional(),
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});

/** Loads a live deployment or throws 404. */
export async function loadDeployment(deps: ApiDeps, id: string): Promise<DeploymentRow> {
  const d = await findDeployment(deps.db, id);
  if (!d) {
    throw notFound('deployment');
  }
  return d;
}

/** A `workdir_in_use` conflict names the deployment that holds the workdir. */
async function withOwner(deps: ApiDeps, err: unknown, key: string): Promise<unknown> {
  if (!(err instanceof AppError) || err.code !== 'workdir_in_use') {
    return err;
  }
  const other = await findByTarget(deps.db, key);
  return other
    ? new AppError(
        'workdir_in_use',
        `deployment ${other.id} already uses this target workdir`,
        409,
        {
          deployment_id: other.id,
        },
      )
    : err;
}

/** The deployment routes (create, list, get, delete, history, logs). */
export function deploymentRoutes(deps: ApiDeps): Router {
  const r = Router();

  r.post('/deployments', async (req, res) => {
    const body = parseOr(createBody, req.body ?? {}, 'invalid_request', 'request body');
    const { manifest, scenario } = await validateManifest(body.manifest, deps.config);
    const { manifest: stored, sealed } = sealManifestSecrets(manifest, deps.secrets);
    // creation and the first run commit together: a crash leaves both or neither; the unique
    // indexes of live workdirs and edge domains decide conflicts (409)
    const created = await createDeployment(
      deps.db,
      {
        name: manifest.name ?? scenario.name,
        scenario: scenario.name,
        manifest: stored,
        target_key: targetKey(manifest),
        edge_key: edgeKey(manifest),
        secrets: sealed,
      },
      actor(res),
      async (trx, row) => (body.execute ? executeIn(trx, row.id, actor(res)) : { deployment: row }),
    ).catch(async (err: unknown) => {
      throw await withOwner(deps, err, targetKey(manifest));
    });
    const runId = 'runId' in created ? created.runId : undefined;
    if (runId) {
      deps.relay.kick();
    }
    res.status(201).json({
      deployment: deploymentView(created.deployment),
      ...(runId ? { run_id: runId } : {}),
    });
  });

  r.get('/deployments', async (req, res) => {
    const q = parseOr(listQuery, req.query, 'invalid_query', 'query');
    if (q.cursor && !decodeCursor(q.cursor)) {
      throw new AppError('invalid_cursor', 'cursor is not one this API issued', 400);
    }
    const page = await listDeployments(deps.db, q);
    res.json({ deployments: page.rows.map(deploymentView), next_cursor: page.nextCursor });
  });

  r.get('/deployments/:id', async (req, res) => {
    res.json({ deployment: deploymentView(await loadDeployment(deps, req.params.id)) });
  });

  r.delete('/deployments/:id', async (req, res) => {
    const outcome = await softDeleteDeployment(deps.db, req.params.id);
    if (outcome === 'missing') {
      throw notFound('deployment');
    }
    if (outcome === 'running') {
      throw new AppError(
        'already_running',
        'a run is active; cancel it or wait for it to end before deleting',
        409,
      );
    }
    res.status(204).end();
  });

  r.get('/deployments/:id/history', async (req, res) => {
    const d = await loadDeployment(deps, req.params.id);
    res.json({ events: await listEvents(deps.db, d.id) });
  });

  r.get('/deployments/:id/logs', async (req, res) => {
    const d = await loadDeployment(deps, req.params.id);
    const q = parseOr(logsQuery, req.query, 'invalid_query', 'query');
    const logs = await listLogs(deps.db, d.id, {
      runId: q.run_id,
      afterId: q.after,
      limit: q.limit,
    });
    res.json({ logs, next_after: logs.length ? Number(logs[logs.length - 1].id) : q.after });
  });

  return r;
}
