/**
 * /api/v1/webhooks: create (the signing secret shown once), list, delete, and a webhook's
 * deliveries. Needs a full token, reads included: a URL can carry a receiver's credentials.
 */
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { AppError, notFound } from '../../shared/errors.js';
import { findDeployment, isUuid } from '../../shared/repositories/deployments.js';
import { listDeliveries } from '../../shared/repositories/webhook-deliveries.js';
import {
  createWebhook,
  deleteWebhook,
  findWebhook,
  listWebhooks,
  type WebhookInfo,
} from '../../shared/repositories/webhooks.js';
import { generateSecret } from '../../shared/secrets/box.js';
import { principalOf } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { parseOr } from '../errors.js';

/**
 * Any http(s) URL with a host and no user:password. Private addresses are allowed on purpose
 * (receivers often sit beside stagecoach, and whoever may call this API may already run code on
 * targets); what keeps a webhook from being a probe is in workers/webhook-send.ts: no
 * redirects, a time limit, and only the status code kept, never the response.
 */
const webhookUrl = z
  .string()
  .trim()
  .max(2048)
  .transform((v, ctx) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a URL' });
      return z.NEVER;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL' });
    } else if (!u.hostname) {
      ctx.addIssue({ code: 'custom', message: 'must name a host' });
    } else if (u.username || u.password) {
      ctx.addIssue({ code: 'custom', message: 'must not hold a user name or password' });
    }
    u.hash = '';
    return u.href;
  });

/** The body of POST /webhooks (also in the OpenAPI document). */
export const createBody = z.strictObject({
  url: webhookUrl,
  deployment_id: z.string().refine(isUuid, 'a deployment id (UUID)').nullable().default(null),
});

/** The query of GET /webhooks/:id/deliveries. */
export const deliveriesQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const view = (w: WebhookInfo) => ({
  id: w.id,
  url: w.url,
  deployment_id: w.deployment_id,
  created_at: w.created_at,
});

const requireFull: RequestHandler = (_req, res, next) => {
  if (principalOf(res)?.readOnly !== false) {
    next(new AppError('forbidden', 'webhooks need a token that is not read-only', 403));
    return;
  }
  next();
};

/** The webhook routes. */
export function webhookRoutes(deps: ApiDeps): Router {
  const r = Router();
  r.use('/webhooks', requireFull);

  r.post('/webhooks', async (req, res) => {
    const body = parseOr(createBody, req.body ?? {}, 'invalid_request', 'request body');
    if (!deps.secrets) {
      throw new AppError(
        'secrets_unavailable',
        'this stagecoach has no key to store the signing secret: set STAGECOACH_SECRET_KEY for the API and the workers',
        422,
      );
    }
    if (body.deployment_id && !(await findDeployment(deps.db, body.deployment_id))) {
      throw notFound('deployment');
    }
    const secret = `whsec_${generateSecret(40)}`;
    const created = await createWebhook(deps.db, {
      url: body.url,
      deploymentId: body.deployment_id,
      secretSealed: deps.secrets.seal(secret),
    });
    res.status(201).json({ webhook: { ...view(created), secret } });
  });

  r.get('/webhooks', async (_req, res) => {
    res.json({ webhooks: (await listWebhooks(deps.db)).map(view) });
  });

  r.delete('/webhooks/:id', async (req, res) => {
    if (!(await deleteWebhook(deps.db, req.params.id))) {
      throw notFound('webhook');
    }
    res.status(204).end();
  });

  r.get('/webhooks/:id/deliveries', async (req, res) => {
    const q = parseOr(deliveriesQuery, req.query, 'invalid_query', 'query');
    const w = await findWebhook(deps.db, req.params.id);
    if (!w) {
      throw notFound('webhook');
    }
    res.json({ deliveries: await listDeliveries(deps.db, w.id, q.limit) });
  });
  return r;
}
