/** Turns a transport's error into the failure of the step it happened in. */
import { StepError, TransientStepError } from '../shared/errors.js';
import { TransportError } from '../shared/transports/errors.js';

/**
 * Codes worth another attempt: the host may be back in a moment. A connection lost in the
 * middle of a step fails the run at once (Retry resumes it), so the failure names what happened.
 */
const TRANSIENT = new Set(['ssh_unreachable']);

/** A StepError (or a retriable TransientStepError) for `step`; other errors pass through. */
export function stepFailure(step: string, err: unknown): unknown {
  if (!(err instanceof TransportError)) {
    return err;
  }
  const message = err.hint ? `${err.message}. ${err.hint}` : err.message;
  return TRANSIENT.has(err.code)
    ? new TransientStepError(step, err.code, message, { cause: err })
    : new StepError(step, err.code, message, { cause: err });
}
