/**
 * The API's answers as zod schemas, for the OpenAPI document (api/openapi.ts). Routes build
 * their answers from repository rows; test/api/openapi.test.ts checks real answers against
 * these, so a field added to a view without a line here fails that test.
 */
import { z } from 'zod';
import { EVENT_KINDS } from '../../shared/repositories/events.js';
import { RUN_KINDS, STAGES } from '../../shared/runs.js';
import { STATUSES } from '../../shared/status.js';

/** Timestamps leave the API as JSON dates (`Date#toJSON`, UTC). */
const time = z.iso.datetime();
const uuid = z.uuid();
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const count = z.number().int().min(0);

/** `{error: {code, message, details?}}`, the body of every error (api/errors.ts). */
export const errorResponse = z.object({
  error: z.object({
    code: z.string().meta({ description: 'stable snake_case code, part of the API' }),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});

const stepResult = z.looseObject({
  id: z.string(),
  title: z.string(),
  ok: z.boolean(),
  skipped: z.boolean().optional(),
  started_at: z.string(),
  duration_ms: z.number(),
  output_tail: z.string(),
});

/** A stage's result: steps and error, plus stage data (health per service, ports, tools). */
const stageResult = z.looseObject({
  ok: z.boolean(),
  steps: z.array(stepResult),
  error: z.object({ step: z.string(), code: z.string(), message: z.string() }).nullable(),
});

const health = z.looseObject({
  state: z.enum(['healthy', 'degraded', 'down']),
  checked_at: z.string(),
  services: z.array(z.object({ name: z.string(), running: z.boolean() })),
  error: z.string().optional(),
});

/** api/view.ts deploymentView: the row without run-control internals, plus run_active, actions. */
export const deployment = z.object({
  id: uuid,
  name: z.string(),
  scenario: z.string(),
  status: z.enum(STATUSES),
  manifest: z
    .record(z.string(), z.unknown())
    .meta({ description: 'the validated manifest; secret values read "***"' }),
  target_key: z.string(),
  ssh_host_key: z.string().nullable(),
  bundle: z.object({ sha256, size_bytes: count }).nullable(),
  current_release: sha256.nullable(),
  setup_result: stageResult.nullable(),
  deploy_result: stageResult.nullable(),
  inspect_result: z.record(z.string(), z.unknown()).nullable(),
  health: health.nullable(),
  stop_result: stageResult.nullable(),
  error_step: z.string().nullable(),
  error_code: z.string().nullable(),
  error_message: z.string().nullable(),
  run_id: uuid.nullable(),
  run_active: z.boolean(),
  actions: z.array(z.enum([...RUN_KINDS, 'cancel'])).meta({
    description:
      'the actions the API accepts now: `cancel` while a run is active, else the run kinds that may start from this status',
  }),
  run_kind: z.enum(RUN_KINDS).nullable(),
  run_stage: z.enum(STAGES).nullable(),
  stage_attempts: count,
  lease_expires_at: time.nullable(),
  cancel_requested_at: time.nullable(),
  cancel_actor: z.string().nullable(),
  progress: z.object({ stage: z.string(), step: z.string(), percent: z.number() }).nullable(),
  created_at: time,
  updated_at: time,
  last_deployed_at: time.nullable(),
  last_inspected_at: time.nullable(),
});

export const deploymentResponse = z.object({ deployment });

/** 201 of POST /deployments: `run_id` only with `execute: true`. */
export const deploymentCreated = z.object({ deployment, run_id: uuid.optional() });

export const deploymentList = z.object({
  deployments: z.array(deployment),
  next_cursor: z.string().nullable(),
});

/** 202 of execute, retry, redeploy, stop, cancel and rollback (api/routes/actions.ts). */
export const actionAccepted = z.object({ deployment, run_id: uuid });

export const historyResponse = z.object({
  events: z.array(
    z.object({
      id: z.string().meta({ description: 'ascending; a bigint as a string' }),
      run_id: uuid.nullable(),
      kind: z.enum(EVENT_KINDS),
      from_status: z.enum(STATUSES).nullable(),
      to_status: z.enum(STATUSES),
      stage: z.string().nullable(),
      message: z.string().nullable().meta({ description: 'for people: read code and run_kind' }),
      code: z.string().nullable().meta({
        description:
          'error code of a failed run on its stage_finished, run_ended and status → failed',
      }),
      run_kind: z.enum(RUN_KINDS).nullable().meta({ description: 'on run_started and run_ended' }),
      actor: z.string(),
      created_at: time,
    }),
  ),
});

export const logsResponse = z.object({
  logs: z.array(
    z.object({
      id: z.string().meta({ description: 'ascending; a bigint as a string' }),
      deployment_id: uuid,
      run_id: uuid.nullable(),
      stage: z.string(),
      step: z.string(),
      stream: z.enum(['stdout', 'stderr']),
      chunk: z.string(),
      created_at: time,
    }),
  ),
  next_after: count.meta({ description: 'pass as `after` for the next page' }),
});

export const releasesResponse = z.object({
  releases: z.array(
    z.object({
      sha256,
      created_at: time,
      deployed_at: time.nullable(),
      current: z.boolean(),
    }),
  ),
});

/** 202 of inspect: queued, or still running after `wait`. */
export const inspectQueued = z.object({ job_id: z.string() });

/** 200 of inspect: the job finished within `wait`; its result is the target's report. */
export const inspectResult = z.object({ job_id: z.string(), result: z.unknown() });

const tokenInfo = { name: z.string(), read_only: z.boolean() };

export const tokenCreated = z.object({
  token: z.string().meta({ description: 'shown only this once' }),
  ...tokenInfo,
});

export const tokenList = z.object({
  tokens: z.array(z.object({ ...tokenInfo, created_at: time })),
});

const webhookInfo = {
  id: z.uuid(),
  url: z.string(),
  deployment_id: z.uuid().nullable(),
  created_at: time,
};

export const webhookCreated = z.object({
  webhook: z.object({
    ...webhookInfo,
    secret: z.string().meta({ description: 'the signing secret, shown only this once' }),
  }),
});

export const webhookList = z.object({ webhooks: z.array(z.object(webhookInfo)) });

export const deliveryList = z.object({
  deliveries: z.array(
    z.object({
      id: z.string(),
      event: z.enum(['deployment.status', 'deployment.health']),
      deployment_id: z.uuid(),
      status: z.enum(['pending', 'delivered', 'failed']),
      status_code: z.int().nullable(),
      attempts: z.int(),
      last_error: z.string().nullable(),
      delivered_at: time.nullable(),
      next_attempt_at: time.nullable(),
      created_at: time,
      attempt_log: z.array(
        z.object({
          attempt: z.int(),
          at: time,
          status_code: z.int().nullable(),
          error: z.string().nullable(),
          duration_ms: z.number(),
        }),
      ),
    }),
  ),
});

export const healthResponse = z.object({ ok: z.literal(true) });

export const readyResponse = z.object({
  ok: z.boolean(),
  database: z.boolean(),
  queues: z.boolean(),
});
