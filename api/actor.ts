/** Who asked, as the history records it. */
import type { Response } from 'express';

/** `token:NAME` for a named token, else `api` (set on res.locals by the auth middleware). */
export const actor = (res: Response): string =>
  typeof res.locals.actor === 'string' ? res.locals.actor : 'api';
