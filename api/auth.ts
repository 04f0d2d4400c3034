/** Bearer-token check for the API and the dashboard (only when API_TOKEN is set). */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Requires `Authorization: Bearer <token>`; a missing token never matches. */
export function requireToken(token: string | undefined): RequestHandler {
  if (!token) {
    return (_req, _res, next) => next();
  }
  const expected = digest(token);
  return (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (given && timingSafeEqual(digest(given), expected)) {
      next();
      return;
    }
    res
      .status(401)
      .json({ error: { code: 'unauthorized', message: 'missing or wrong bearer token' } });
  };
}
