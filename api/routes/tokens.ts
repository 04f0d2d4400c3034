/** /api/v1/tokens: create (shown once), list (names and flags), revoke. Needs full access. */
import { Router } from 'express';
import { z } from 'zod';
import { notFound } from '../../shared/errors.js';
import {
  createToken,
  listTokens,
  revokeToken,
  TOKEN_NAME,
  type TokenInfo,
} from '../../shared/repositories/tokens.js';
import { requireFullAccess } from '../auth.js';
import type { ApiDeps } from '../deps.js';
import { parseOr } from '../errors.js';

export const createBody = z.strictObject({
  name: z.string().regex(TOKEN_NAME, 'letters, digits, ".", "_" or "-", at most 63'),
  read_only: z.boolean().default(false),
});

const view = (t: TokenInfo) => ({
  name: t.name,
  read_only: t.read_only,
  created_at: t.created_at,
});

/** The token routes; the first token can be created while the API is still open. */
export function tokenRoutes(deps: ApiDeps): Router {
  const r = Router();
  r.use('/tokens', requireFullAccess);

  r.post('/tokens', async (req, res) => {
    const body = parseOr(createBody, req.body ?? {}, 'invalid_request', 'request body');
    const created = await createToken(deps.db, { name: body.name, readOnly: body.read_only });
    res
      .status(201)
      .json({ token: created.token, name: created.name, read_only: created.read_only });
  });

  r.get('/tokens', async (_req, res) => {
    res.json({ tokens: (await listTokens(deps.db)).map(view) });
  });

  r.delete('/tokens/:name', async (req, res) => {
    if (!(await revokeToken(deps.db, req.params.name))) {
      throw notFound('token');
    }
    res.status(204).end();
  });
  return r;
}
