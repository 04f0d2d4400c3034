/** The pipeline as one table: which status each stage runs in, ends in, and what comes next. */
import type { JobName } from '../shared/queues.js';
import type { Status } from '../shared/status.js';

export interface StageDef {
  /** Statuses the stage may start from (its own running status too: a retried job re-enters). */
  from: readonly Status[];
  /** Status while the stage works. */
  running: Status;
  /** Status once it succeeded (none: the status stays `running`). */
  done?: Status;
  /** Job enqueued after success. */
  next?: JobName;
  /** Column that keeps the stage result. */
  resultColumn?: 'setup_result' | 'deploy_result';
  /** Progress percent at the start of each step. */
  percents: Record<string, number>;
}

export type PipelineStage = 'build' | 'setup' | 'deploy';

export const PIPELINE: Record<PipelineStage, StageDef> = {
  build: { from: ['pending'], running: 'pending', next: 'setup', percents: { bundle: 5 } },
  setup: {
    from: ['pending', 'setup_running'],
    running: 'setup_running',
    done: 'setup_complete',
    next: 'deploy',
    resultColumn: 'setup_result',
    percents: { preflight: 12, transfer: 15, extract: 25, manage_setup: 30 },
  },
  deploy: {
    from: ['setup_complete', 'deploying'],
    running: 'deploying',
    done: 'deployed',
    next: 'inspect',
    resultColumn: 'deploy_result',
    percents: {
      release_check: 40,
      start_resources: 45,
      build: 55,
      start_services: 75,
      health_check: 85,
      edge_configure: 90,
      https_check: 95,
      prune: 98,
    },
  },
};

/** Statuses a run can be failed from (everything a stage runs in). */
export const FAILABLE: readonly Status[] = [
  'pending',
  'setup_running',
  'setup_complete',
  'deploying',
];

/** The stage whose job should exist for a run in this status. */
export function stageForStatus(status: Status): PipelineStage | null {
  switch (status) {
    case 'pending':
      return 'build';
    case 'setup_running':
      return 'setup';
    case 'setup_complete':
    case 'deploying':
      return 'deploy';
    default:
      return null;
  }
}
