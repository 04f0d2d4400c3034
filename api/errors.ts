/** The one error middleware: every error becomes `{"error":{"code","message","details?"}}`. */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { z } from 'zod';
import { AppError } from '../shared/errors.js';
import { isInfraError } from '../shared/infra.js';
import { formatIssues } from '../shared/manifest.js';
import type { Logger } from '../shared/logger.js';

/** Parses with zod or throws a 422 with the given code and the issues as details. */
export function parseOr<T extends z.ZodType>(
  schema: T,
  value: unknown,
  code: string,
  what: string,
): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new AppError(code, `${what} is invalid`, 422, { issues: formatIssues(result.error) });
  }
  return result.data;
}

/** 404 for routes that do not exist. */
export const notFoundRoute: RequestHandler = (req, res) => {
  res
    .status(404)
    .json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}` } });
};

/** Turns thrown errors into the API's error shape. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, _req, res, _next) => {
    const e = err as { type?: string; status?: number; message?: string };
    if (e.type === 'entity.parse.failed') {
      res
        .status(400)
        .json({ error: { code: 'invalid_json', message: 'request body is not valid JSON' } });
      return;
    }
    if (e.type === 'entity.too.large') {
      res
        .status(413)
        .json({ error: { code: 'body_too_large', message: 'request body is too large' } });
      return;
    }
    if (isInfraError(err)) {
      // an outage, not a bug: the driver's message can hold SQL, so it goes to the log only
      logger.warn({ err }, 'backing service unavailable');
      const message =
        err instanceof AppError
          ? err.message
          : "stagecoach's database or queue backend is unavailable; try again shortly";
      res
        .status(503)
        .set('retry-after', '5')
        .json({ error: { code: 'unavailable', message } });
      return;
    }
    if (err instanceof AppError) {
      const body: Record<string, unknown> = { code: err.code, message: err.message };
      if (err.details !== undefined) {
        body.details = err.details;
      }
      res.status(err.httpStatus).json({ error: body });
      return;
    }
    logger.error({ err }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  };
}
