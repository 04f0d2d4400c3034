/**
 * Every operation of the HTTP API as data, naming the zod schemas the routes parse and the
 * response schemas of ./schemas/responses.ts; ./openapi.ts turns the table into OpenAPI 3.1.
 * A route added to the app without a row here fails test/api/openapi.test.ts.
 */
import type { z } from 'zod';
import { manifestSchema } from '../shared/manifest.js';
import { emptyBody, rebuildBody, stopBody } from './routes/actions.js';
import { createBody, listQuery, logsQuery } from './routes/deployments.js';
import { inspectQuery } from './routes/inspect.js';
import { rollbackBody } from './routes/releases.js';
import { createBody as createTokenBody } from './routes/tokens.js';
import { createBody as createWebhookBody, deliveriesQuery } from './routes/webhooks.js';
import * as r from './schemas/responses.js';

/** Request schemas by component name (JSON Schema of their input: defaults optional). */
export const REQUEST_SCHEMAS: Record<string, z.ZodType> = {
  Manifest: manifestSchema,
  // the route takes `manifest` as unknown and parses it with manifestSchema next (a 422
  // `invalid_manifest` of its own), so the document shows the two as one body
  CreateDeploymentRequest: createBody.extend({ manifest: manifestSchema }),
  ActionRequest: rebuildBody,
  StopRequest: stopBody,
  CancelRequest: emptyBody,
  RollbackRequest: rollbackBody,
  CreateTokenRequest: createTokenBody,
  CreateWebhookRequest: createWebhookBody,
};

/** Response schemas by component name (JSON Schema of their output). */
export const RESPONSE_SCHEMAS: Record<string, z.ZodType> = {
  Error: r.errorResponse,
  Deployment: r.deployment,
  DeploymentResponse: r.deploymentResponse,
  DeploymentCreated: r.deploymentCreated,
  DeploymentList: r.deploymentList,
  ActionAccepted: r.actionAccepted,
  History: r.historyResponse,
  Logs: r.logsResponse,
  Releases: r.releasesResponse,
  InspectQueued: r.inspectQueued,
  InspectResult: r.inspectResult,
  TokenCreated: r.tokenCreated,
  TokenList: r.tokenList,
  WebhookCreated: r.webhookCreated,
  WebhookList: r.webhookList,
  DeliveryList: r.deliveryList,
  Health: r.healthResponse,
  Ready: r.readyResponse,
};

export interface Operation {
  method: 'get' | 'post' | 'delete';
  /** The OpenAPI path (`{id}` for Express's `:id`). */
  path: string;
  summary: string;
  tag: 'deployments' | 'actions' | 'releases' | 'tokens' | 'webhooks' | 'meta';
  query?: z.ZodObject;
  /** A REQUEST_SCHEMAS name; `required: false` where the route reads a missing body as `{}`. */
  body?: { schema: string; required: boolean };
  /**
   * Success statuses: a RESPONSE_SCHEMAS name, null for no body, 'any' for a free object, or
   * 'text' for text/plain, 'sse' for a text/event-stream.
   */
  ok: Record<number, string | null>;
  /** Error statuses this route can answer besides the ones every API route can. */
  errors: number[];
  /** Outside the `/api/v1` auth guard: no token, no rate limit. */
  public?: true;
  /** GET /metrics: METRICS_TOKEN, or loopback clients only when it is unset. */
  metricsToken?: true;
}

const V1 = '/api/v1';
const D = `${V1}/deployments/{id}`;

/** Execute, retry, redeploy: the same body and answers. */
const rebuild = (kind: string, summary: string): Operation => ({
  method: 'post',
  path: `${D}/${kind}`,
  summary,
  tag: 'actions',
  body: { schema: 'ActionRequest', required: false },
  ok: { 202: 'ActionAccepted' },
  errors: [404, 409, 422],
});

export const OPERATIONS: Operation[] = [
  {
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: 200 while the process is up',
    tag: 'meta',
    ok: { 200: 'Health' },
    errors: [],
    public: true,
  },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: the database and the queue backend answer',
    tag: 'meta',
    ok: { 200: 'Ready', 503: 'Ready' },
    errors: [],
    public: true,
  },
  {
    method: 'get',
    path: `${V1}/openapi.json`,
    summary: 'This document',
    tag: 'meta',
    ok: { 200: 'any' },
    errors: [],
    public: true,
  },
  {
    method: 'get',
    path: '/metrics',
    summary: "Prometheus metrics, in Prometheus' text format",
    tag: 'meta',
    ok: { 200: 'text' },
    errors: [401, 403, 503],
    public: true,
    metricsToken: true,
  },
  {
    method: 'post',
    path: `${V1}/deployments`,
    summary: 'Create a deployment (and start it with `execute`)',
    tag: 'deployments',
    body: { schema: 'CreateDeploymentRequest', required: true },
    ok: { 201: 'DeploymentCreated' },
    errors: [409, 422],
  },
  {
    method: 'get',
    path: `${V1}/deployments`,
    summary: 'List live deployments, newest first',
    tag: 'deployments',
    query: listQuery,
    ok: { 200: 'DeploymentList' },
    errors: [400, 422],
  },
  {
    method: 'get',
    path: D,
    summary: 'One deployment',
    tag: 'deployments',
    ok: { 200: 'DeploymentResponse' },
    errors: [404],
  },
  {
    method: 'delete',
    path: D,
    summary: 'Hide a deployment (its history is kept; the target is not touched)',
    tag: 'deployments',
    ok: { 204: null },
    errors: [404, 409],
  },
  {
    method: 'get',
    path: `${D}/history`,
    summary: 'Status changes and run events, oldest first',
    tag: 'deployments',
    ok: { 200: 'History' },
    errors: [404],
  },
  {
    method: 'get',
    path: `${D}/logs`,
    summary: "The steps' streamed output",
    tag: 'deployments',
    query: logsQuery,
    ok: { 200: 'Logs' },
    errors: [404, 422],
  },
  {
    method: 'get',
    path: `${D}/events`,
    summary:
      'Server-sent events: history events and log lines, then `end` once the deployment rests (Last-Event-ID resumes; `?access_token=` for EventSource)',
    tag: 'deployments',
    ok: { 200: 'sse', 204: null },
    errors: [400, 404],
  },
  {
    method: 'get',
    path: `${V1}/events`,
    summary: 'Server-sent events: status, health, run and deletion changes of every deployment',
    tag: 'deployments',
    ok: { 200: 'sse' },
    errors: [],
  },
  rebuild('execute', 'Run build, setup and deploy'),
  rebuild('retry', 'Run again after a failure'),
  rebuild('redeploy', 'Deploy again from deployed or stopped'),
  {
    method: 'post',
    path: `${D}/stop`,
    summary: "Stop the target's services",
    tag: 'actions',
    body: { schema: 'StopRequest', required: false },
    ok: { 202: 'ActionAccepted' },
    errors: [404, 409, 422],
  },
  {
    method: 'post',
    path: `${D}/cancel`,
    summary: 'Cancel the active run',
    tag: 'actions',
    body: { schema: 'CancelRequest', required: false },
    ok: { 202: 'ActionAccepted' },
    errors: [404, 409, 422],
  },
  {
    method: 'post',
    path: `${D}/inspect`,
    summary: 'Read the target (wait up to `wait` seconds for the result)',
    tag: 'actions',
    query: inspectQuery,
    ok: { 200: 'InspectResult', 202: 'InspectQueued' },
    errors: [404, 422, 502],
  },
  {
    method: 'get',
    path: `${D}/releases`,
    summary: 'Releases the target holds',
    tag: 'releases',
    ok: { 200: 'Releases' },
    errors: [404],
  },
  {
    method: 'post',
    path: `${D}/rollback`,
    summary: 'Deploy an earlier release again',
    tag: 'releases',
    body: { schema: 'RollbackRequest', required: false },
    ok: { 202: 'ActionAccepted' },
    errors: [404, 409, 422],
  },
  {
    method: 'post',
    path: `${V1}/tokens`,
    summary: 'Create a named token (shown once)',
    tag: 'tokens',
    body: { schema: 'CreateTokenRequest', required: true },
    ok: { 201: 'TokenCreated' },
    errors: [409, 422],
  },
  {
    method: 'get',
    path: `${V1}/tokens`,
    summary: 'Named tokens (never the token)',
    tag: 'tokens',
    ok: { 200: 'TokenList' },
    errors: [],
  },
  {
    method: 'delete',
    path: `${V1}/tokens/{name}`,
    summary: 'Revoke a named token',
    tag: 'tokens',
    ok: { 204: null },
    errors: [404],
  },
  {
    method: 'post',
    path: `${V1}/webhooks`,
    summary: 'Create a webhook (its signing secret shown once)',
    tag: 'webhooks',
    body: { schema: 'CreateWebhookRequest', required: true },
    ok: { 201: 'WebhookCreated' },
    errors: [403, 404, 422],
  },
  {
    method: 'get',
    path: `${V1}/webhooks`,
    summary: 'Webhooks (never a secret)',
    tag: 'webhooks',
    ok: { 200: 'WebhookList' },
    errors: [403],
  },
  {
    method: 'delete',
    path: `${V1}/webhooks/{id}`,
    summary: 'Delete a webhook and its pending deliveries',
    tag: 'webhooks',
    ok: { 204: null },
    errors: [403, 404],
  },
  {
    method: 'get',
    path: `${V1}/webhooks/{id}/deliveries`,
    summary: "A webhook's deliveries, newest first, with every attempt",
    tag: 'webhooks',
    query: deliveriesQuery,
    ok: { 200: 'DeliveryList' },
    errors: [403, 404, 422],
  },
];
