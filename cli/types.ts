/** The shapes of the API's answers the CLI reads (a loose subset: the API may add fields). */

/** A history event (`GET /history`, SSE `history`). */
export interface HistoryEvent {
  id: string;
  run_id: string | null;
  kind: string;
  from_status: string | null;
  to_status: string;
  stage: string | null;
  message: string | null;
  /** The error code on a failed run's stage_finished, run_ended and status → failed. */
  code?: string | null;
  /** The run kind on run_started and run_ended. */
  run_kind?: string | null;
  actor: string;
  created_at: string;
}

/** A log chunk (`GET /logs`, SSE `log`): output as it came, not always a whole line. */
export interface LogChunk {
  id: string;
  run_id: string | null;
  stage: string;
  step: string;
  stream: string;
  chunk: string;
  created_at: string;
}

/** Where a run stands (SSE `progress`). */
export interface ProgressData {
  status: string;
  run_active: boolean;
  progress: { stage: string; step: string; percent: number } | null;
}

/** SSE `end`: the deployment rests, or was deleted. */
export interface EndData {
  status: string | null;
  deleted: boolean;
}

/** One event of a deployment's stream. */
export type StreamEvent =
  | { event: 'history'; id?: string; data: HistoryEvent }
  | { event: 'log'; id?: string; data: LogChunk }
  | { event: 'progress'; id?: string; data: ProgressData }
  | { event: 'end'; id?: string; data: EndData };

/** A deployment as `GET /deployments/:id` shows it (the fields the CLI prints). */
export interface Deployment {
  id: string;
  name: string | null;
  scenario: string;
  status: string;
  health: { state: string; checked_at?: string; error?: string } | null;
  current_release: string | null;
  bundle: { sha256: string; size_bytes: number } | null;
  error_step: string | null;
  error_code: string | null;
  error_message: string | null;
  run_id: string | null;
  run_active: boolean;
  run_kind: string | null;
  run_stage: string | null;
  progress: ProgressData['progress'];
  manifest: { target?: { type?: string; workdir?: string; host?: string } } | null;
  created_at: string;
  updated_at: string;
  last_deployed_at: string | null;
}

/** `202 {deployment, run_id}` of an action, `201` of a create with execute. */
export interface Started {
  deployment: Deployment;
  run_id?: string;
}
