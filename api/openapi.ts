/**
 * The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas the routes parse
 * (z.toJSONSchema) and the operation table of ./openapi-operations.ts; served, without a
 * token, at GET /api/v1/openapi.json.
 */
import { STATUS_CODES } from 'node:http';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import {
  OPERATIONS,
  REQUEST_SCHEMAS,
  RESPONSE_SCHEMAS,
  type Operation,
} from './openapi-operations.js';

type Json = Record<string, unknown>;

/** Why each error status happens; the codes are the `error.code` values of that status. */
const ERROR_STATUSES: Record<number, string> = {
  400: '`invalid_json`: the body is not JSON; `invalid_cursor` for a cursor this API never issued',
  401: '`unauthorized`: a token exists and this request has no valid bearer token',
  403: '`forbidden`: a read-only token asked for a change, or token management without full access',
  404: '`not_found` (unknown or malformed id), `release_not_found`',
  409: '`already_running`, `invalid_state`, `workdir_in_use`, `domain_in_use`, `no_previous_release`, `token_exists`',
  413: '`body_too_large`: more than 1 MB',
  415: '`unsupported_media_type`: a change not sent as application/json',
  421: '`host_not_allowed`: the Host header names no address of this API',
  422: '`invalid_request`, `invalid_query`, `invalid_manifest` with `details.issues: [{path, message}]`',
  429: '`rate_limited`, with Retry-After',
  502: "`inspect_failed`: the target's error (details.job_id)",
  503: "`unavailable`: stagecoach's database or queue backend is down (Retry-After)",
};

/** Statuses every /api/v1 route can answer; state changes add the body's. */
const GUARDED = [401, 403, 421, 429, 503];
const WITH_BODY = [400, 413, 415];

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json): Json => ({ 'application/json': { schema } });

/** Component schemas of one direction: `input` for requests, `output` for responses. */
function componentSchemas(entries: Record<string, z.ZodType>, io: 'input' | 'output'): Json {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(entries)) {
    registry.add(schema, { id });
  }
  const { schemas } = z.toJSONSchema(registry, {
    io,
    uri: (id) => `#/components/schemas/${id}`,
  });
  // OpenAPI 3.1's dialect is draft 2020-12 already, and a `$id` with a fragment is not valid
  return Object.fromEntries(
    Object.entries(schemas).map(([id, s]) => {
      const { $schema: _s, $id: _i, ...rest } = s as Json;
      return [id, rest];
    }),
  );
}

/** `{name}` path parameters and the query's fields as parameter objects. */
function parameters(op: Operation): Json[] {
  const path = [...op.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    description: name === 'id' ? 'deployment id (a uuid; anything else is 404)' : 'token name',
    schema: { type: 'string' },
  }));
  const query = Object.entries(op.query?.shape ?? {}).map(([name, field]) => {
    const { $schema: _s, ...schema } = z.toJSONSchema(field, { io: 'input' }) as Json;
    return { name, in: 'query', required: !field.safeParse(undefined).success, schema };
  });
  return [...path, ...query];
}

/** The responses object: the success answers, then the errors with the error shape. */
function responses(op: Operation): Json {
  const out: Json = {};
  for (const [status, schema] of Object.entries(op.ok)) {
    const description = STATUS_CODES[status] ?? status;
    if (schema === 'text' || schema === 'sse') {
      const type = schema === 'sse' ? 'text/event-stream' : 'text/plain';
      out[status] = { description, content: { [type]: { schema: { type: 'string' } } } };
      continue;
    }
    const body = schema === 'any' ? { type: 'object' } : schema && ref(schema);
    out[status] = body ? { description, content: json(body) } : { description };
  }
  const errors = new Set([
    ...op.errors,
    ...(op.public ? [] : GUARDED),
    ...(op.body || op.method === 'delete' ? WITH_BODY : []),
  ]);
  if (op.path === '/healthz' || op.path === '/readyz') {
    errors.clear(); // probes answer any Host
  } else {
    errors.add(421);
  }
  for (const status of [...errors].sort((a, b) => a - b)) {
    out[status] = { description: ERROR_STATUSES[status], content: json(ref('Error')) };
  }
  out.default = { description: '`internal`: an unexpected error', content: json(ref('Error')) };
  return out;
}

/** One operation object. */
function operation(op: Operation): Json {
  const params = parameters(op);
  return {
    summary: op.summary,
    tags: [op.tag],
    operationId: `${op.method}${op.path.replace(/[^A-Za-z0-9]+(\w?)/g, (_m, c: string) => c.toUpperCase())}`,
    ...(op.public ? { security: op.metricsToken ? [{ metrics: [] }, {}] : [] } : {}),
    ...(params.length ? { parameters: params } : {}),
    ...(op.body
      ? { requestBody: { required: op.body.required, content: json(ref(op.body.schema)) } }
      : {}),
    responses: responses(op),
  };
}

/** Builds the document (pure: the same schemas give the same document). */
export function buildOpenApiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const op of OPERATIONS) {
    paths[op.path] = { ...paths[op.path], [op.method]: operation(op) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'stagecoach',
      version: '1',
      description:
        'Deployments over a queue: create, execute, inspect, roll back. Errors are `{"error": {"code", "message", "details?"}}`. The dashboard at /admin/queues is not part of this API.',
    },
    servers: [{ url: '/', description: 'the stagecoach that serves this document' }],
    security: [{ bearer: [] }],
    tags: ['deployments', 'actions', 'releases', 'tokens', 'webhooks', 'meta'].map((name) => ({
      name,
    })),
    paths,
    components: {
      securitySchemes: {
        metrics: {
          type: 'http',
          scheme: 'bearer',
          description:
            'GET /metrics only: METRICS_TOKEN; while it is unset, loopback clients scrape without one.',
        },
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'API_TOKEN or a named token (POST /api/v1/tokens). While neither exists the API is open (loopback only) and needs none.',
        },
      },
      schemas: {
        ...componentSchemas(REQUEST_SCHEMAS, 'input'),
        ...componentSchemas(RESPONSE_SCHEMAS, 'output'),
      },
    },
  };
}

let cached: Json | undefined;

/** GET /api/v1/openapi.json: the document, built on first use. */
export const openApiRoute: RequestHandler = (_req, res) => {
  cached ??= buildOpenApiDocument();
  res.json(cached);
};
