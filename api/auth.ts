/**
 * Who is calling. As soon as API_TOKEN is set or a named token exists, /api/v1 and the
 * dashboard need `Authorization: Bearer …`; with no token at all the API is open (loopback only).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { AppError } from '../shared/errors.js';
import { withTimeout } from '../shared/infra.js';
import { findToken, hasTokens } from '../shared/repositories/tokens.js';
import type { ApiDeps } from './deps.js';

/** The authenticated caller, kept in `res.locals.principal`. */
export interface Principal {
  /** `open`: no token exists; `api_token`: the configured API_TOKEN; `token`: a named token. */
  kind: 'open' | 'api_token' | 'token';
  /** The named token's name (kind `token` only). */
  name?: string;
  /** A read-only token may read (GET, HEAD, OPTIONS) and nothing else. */
  readOnly: boolean;
}

/** Methods a read-only token (and the read-only dashboard) may use. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The token lookups must answer well within the API's 5 s outage bound. */
const LOOKUP_MS = 4000;

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** What the history's `actor` records for a principal: `token:NAME`, or `api`. */
export const actorOf = (p: Principal): string => (p.kind === 'token' ? `token:${p.name}` : 'api');

/** The principal `authenticate` stored, or undefined when authentication failed. */
export const principalOf = (res: Response): Principal | undefined =>
  res.locals.principal as Principal | undefined;

/** The bearer value of an Authorization header; '' when the header is not a bearer token. */
export function bearerOf(header: string): string {
  const m = /^bearer +(\S+) *$/i.exec(header);
  return m ? m[1]! : '';
}

/** Whom a request's Authorization header (or its absence) names; undefined = not allowed. */
async function resolve(
  deps: ApiDeps,
  expected: Buffer | undefined,
  header: string | undefined,
): Promise<Principal | undefined> {
  if (header === undefined) {
    if (expected) {
      return undefined;
    }
    const locked = await withTimeout(hasTokens(deps.db), LOOKUP_MS, 'the database');
    return locked ? undefined : { kind: 'open', readOnly: false };
  }
  const given = bearerOf(header);
  if (!given) {
    return undefined;
  }
  if (expected && timingSafeEqual(digest(given), expected)) {
    return { kind: 'api_token', readOnly: false };
  }
  const named = await withTimeout(findToken(deps.db, given), LOOKUP_MS, 'the database');
  return named ? { kind: 'token', name: named.name, readOnly: named.read_only } : undefined;
}

/**
 * Sets `res.locals.principal` (a Principal) and `res.locals.actor` (`token:NAME` for a named
 * token, `api` for API_TOKEN or an open API). It never answers itself, so the rate limit that
 * follows also counts failed attempts; `authorize` then refuses them.
 */
export function authenticate(deps: ApiDeps): RequestHandler {
  const expected = deps.config.API_TOKEN ? digest(deps.config.API_TOKEN) : undefined;
  return async (req, res, next) => {
    const principal = await resolve(deps, expected, req.get('authorization'));
    if (principal) {
      res.locals.principal = principal;
      res.locals.actor = actorOf(principal);
    }
    next();
  };
}

/** 401 without a valid token; 403 for anything but a read from a read-only token. */
export const authorize: RequestHandler = (req, res, next) => {
  const principal = principalOf(res);
  if (!principal) {
    res.set('www-authenticate', 'Bearer');
    next(new AppError('unauthorized', 'missing or wrong bearer token', 401));
    return;
  }
  if (principal.readOnly && !SAFE_METHODS.has(req.method)) {
    next(new AppError('forbidden', 'this token is read-only', 403));
    return;
  }
  next();
};

/** 403 unless the caller holds full access (token management needs it). */
export const requireFullAccess: RequestHandler = (_req, res, next) => {
  if (principalOf(res)?.readOnly !== false) {
    next(new AppError('forbidden', 'managing tokens needs a token that is not read-only', 403));
    return;
  }
  next();
};
