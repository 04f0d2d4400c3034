/** The stages as one table: where each may start, what it runs in, ends in, and what follows. */
import type { Config } from '../shared/config.js';
import type { Manifest } from '../shared/manifest.js';
import type { Stage } from '../shared/runs.js';
import type { Status } from '../shared/status.js';

export interface StageDef {
  /** Statuses the stage may start from (its own running status too: a requeued job re-enters). */
  from: readonly Status[];
  /** Status while the stage works (none: the status stays as it was). */
  running?: Status;
  /** Status once it succeeded (none: the status stays `running`). */
  done?: Status;
  /** Stage whose job follows success; none: the run ends with success. */
  next?: Stage;
  /** Column that keeps the stage result. */
  resultColumn?: 'setup_result' | 'deploy_result' | 'stop_result';
  /** Progress percent at the start of each step. */
  percents: Record<string, number>;
}

export const STAGE_DEFS: Record<Stage, StageDef> = {
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
    resultColumn: 'deploy_result',
    percents: {
      secrets: 38,
      release_check: 40,
      start_resources: 45,
      build: 55,
      start_services: 75,
      health_check: 85,
      edge_configure: 90,
      https_check: 95,
      promote: 97,
      prune: 98,
      rollback_discard: 90,
      rollback_stop: 95,
      rollback_start: 92,
      rollback_health: 94,
      rollback_edge: 96,
      rollback_promote: 98,
    },
  },
  stop: {
    from: ['deployed', 'failed', 'stopped'],
    done: 'stopped',
    resultColumn: 'stop_result',
    percents: { stop: 50 },
  },
};

/** The stage's time limit in ms: the manifest's `timeouts`, else STAGE_TIMEOUT_*_S. */
export function stageTimeoutMs(stage: Stage, manifest: Manifest, config: Config): number {
  const t = manifest.timeouts;
  const seconds =
    stage === 'build'
      ? (t?.build_s ?? config.STAGE_TIMEOUT_BUILD_S)
      : stage === 'setup'
        ? (t?.setup_s ?? config.STAGE_TIMEOUT_SETUP_S)
        : (t?.deploy_s ?? config.STAGE_TIMEOUT_DEPLOY_S);
  return seconds * 1000;
}
