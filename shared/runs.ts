/**
 * Runs: the kinds that exist, where each may start, and the one rule of when a run is active
 * (`run_kind` is set). Claiming a run is a conditional write on that column
 * (shared/repositories/runs.ts); nothing else decides whether a run is in flight.
 */
import type { Status } from './status.js';

export const RUN_KINDS = ['execute', 'retry', 'redeploy', 'stop', 'rollback'] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** The stages a run moves through; `stop` is a run of its own stage. */
export const STAGES = ['build', 'setup', 'deploy', 'stop'] as const;
export type Stage = (typeof STAGES)[number];

/** Statuses each run kind may start from. */
export const RUN_STARTS_FROM: Readonly<Record<RunKind, readonly Status[]>> = {
  execute: ['pending', 'deployed', 'stopped', 'failed'],
  retry: ['failed'],
  redeploy: ['deployed', 'stopped'],
  stop: ['deployed', 'failed'],
  // deploys a release the target still holds (run_options.release): no build, no setup
  rollback: ['deployed', 'stopped', 'failed'],
};

/** The one definition of "a run is in flight". */
export function isRunActive(d: { run_kind: string | null }): boolean {
  return d.run_kind !== null;
}

/** Stages that change the target and so count against HOST_CONCURRENCY. */
export const MUTATING_STAGES: readonly Stage[] = ['setup', 'deploy', 'stop'];

/** The BullMQ job id of a stage's job of one generation (`:` is not allowed in ids). */
export const stageJobId = (runId: string, stage: Stage, gen: number): string =>
  `${runId}-${stage}-${gen}`;
