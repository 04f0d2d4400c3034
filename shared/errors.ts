/** Errors with a stable snake_case code that is part of the API. */
import { UnrecoverableError } from 'bullmq';

/** An error the API and the stages report by code. */
export class AppError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus = 500,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }
}

/** A stage step failed in a way retrying the job cannot fix; the deployment goes `failed`. */
export class StepError extends UnrecoverableError {
  constructor(
    readonly step: string,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message);
    this.name = 'StepError';
    if (options?.cause !== undefined) {
      this.cause = options.cause;
    }
  }
}

/** A step failed in a way that may pass on a later attempt (host unreachable, connection lost). */
export class TransientStepError extends Error {
  constructor(
    readonly step: string,
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransientStepError';
  }
}

/** 404 for an unknown or malformed id. */
export const notFound = (what: string): AppError =>
  new AppError('not_found', `${what} not found`, 404);

/** 409 for an action the deployment's status does not allow. */
export const invalidState = (message: string, details?: unknown): AppError =>
  new AppError('invalid_state', message, 409, details);
