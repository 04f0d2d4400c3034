/**
 * CSRF defence: a browser sends a cross-site POST without a CORS preflight only as text/plain,
 * a form encoding, or with no body and no content type (sendBeacon, fetch no-cors). Requiring
 * `application/json` on every state change needs a preflight, which this API never grants.
 */
import type { RequestHandler } from 'express';
import { AppError } from '../shared/errors.js';

/** Methods that carry a body and change state: application/json always, even with no body. */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/** True when the request's media type is application/json (parameters such as charset allowed). */
function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/** True when the request says it has a body. */
function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = Number(headers['content-length'] ?? 0);
  return headers['transfer-encoding'] !== undefined || length > 0;
}

/**
 * 415 `unsupported_media_type` for a POST, PUT or PATCH that is not application/json (a bodiless
 * POST included), and for a DELETE with a non-JSON body. A bodiless DELETE passes: browsers
 * cannot send a cross-site DELETE without a preflight.
 */
export const requireJson: RequestHandler = (req, _res, next) => {
  const needsJson =
    BODY_METHODS.has(req.method) || (req.method === 'DELETE' && hasBody(req.headers));
  if (needsJson && !isJson(req.get('content-type'))) {
    next(
      new AppError(
        'unsupported_media_type',
        'requests that change state must be sent with content-type: application/json',
        415,
      ),
    );
    return;
  }
  next();
};
