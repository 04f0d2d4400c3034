/** Step, code and message of a stage failure. */
import { StepError, TransientStepError } from '../shared/errors.js';

const MAX_MESSAGE = 8000;

/** Step, code and message of any error (an unexpected one is blamed on the stage). */
export function describeFailure(
  err: unknown,
  stage: string,
): { step: string; code: string; message: string } {
  if (err instanceof StepError || err instanceof TransientStepError) {
    return { step: err.step, code: err.code, message: err.message.slice(0, MAX_MESSAGE) };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { step: stage, code: 'stage_error', message: message.slice(0, MAX_MESSAGE) };
}
