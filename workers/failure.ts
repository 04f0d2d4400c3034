/** Turning a stage failure into a `failed` deployment with step, code, message and result. */
import { StepError, TransientStepError } from '../shared/errors.js';
import { transition, type StageResult } from '../shared/repositories/deployments.js';
import type { StageContext } from './context.js';
import { FAILABLE } from './pipeline.js';

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

/** Marks the run failed (only if it is still this run and still in progress). */
export async function failRun(
  ctx: StageContext,
  input: {
    deploymentId: string;
    runId: string;
    stage: string;
    failure: { step: string; code: string; message: string };
    resultColumn?: 'setup_result' | 'deploy_result';
    result?: StageResult;
    actor: string;
  },
): Promise<boolean> {
  const patch: Record<string, unknown> = {
    error_step: input.failure.step,
    error_code: input.failure.code,
    error_message: input.failure.message,
    progress: null,
  };
  if (input.resultColumn && input.result) {
    patch[input.resultColumn] = input.result;
  }
  const row = await transition(ctx.db, {
    id: input.deploymentId,
    from: FAILABLE,
    to: 'failed',
    runId: input.runId,
    stage: input.stage,
    message: `${input.failure.step}: ${input.failure.code}`,
    actor: input.actor,
    patch,
  });
  return row !== null;
}
