/** Deployment manifest v1: the zod schema shared by the HTTP API and the workers. */
import { z } from 'zod';

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PORT_KEY = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** A path relative to a base directory that never climbs out of it. */
export const relativePath = z
  .string()
  .min(1)
  .max(512)
  .refine((p) => !p.startsWith('/') && !p.includes('\0'), 'must be a relative path')
  .refine((p) => !p.split(/[\\/]/).includes('..'), 'may not contain ".."');

const port = z.number().int().min(1).max(65535);

export const localTargetSchema = z.strictObject({
  type: z.literal('local'),
  workdir: relativePath,
});

/** `~`, `~/dir`, an absolute path or a path relative to the remote home; no `..`. */
const remoteWorkdir = z
  .string()
  .max(512)
  .regex(
    /^(~|~\/[A-Za-z0-9._/-]+|\/[A-Za-z0-9._/-]+|[A-Za-z0-9._][A-Za-z0-9._/-]*)$/,
    'must be ~, ~/dir, /abs/dir or dir',
  )
  .refine((p) => !p.split('/').includes('..'), 'may not contain ".."');

export const sshTargetSchema = z.strictObject({
  type: z.literal('ssh'),
  // a hostname or an IP literal: nothing a shell or ssh could read as syntax or an option
  host: z.union([
    z.ipv4(),
    z.ipv6(),
    z.string().regex(HOSTNAME, 'must be a hostname or an IP address'),
  ]),
  port: port.default(22),
  user: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/i, 'must be a user name'),
  key_path: z
    .string()
    .min(1)
    .max(1024)
    .refine((p) => !p.includes('\0'), 'may not contain NUL')
    .optional(),
  host_key: z
    .string()
    .regex(/^SHA256:[A-Za-z0-9+/]{43}$/, 'must be an OpenSSH fingerprint like SHA256:…')
    .optional(),
  workdir: remoteWorkdir.default('~/stagecoach'),
});

export const edgeSchema = z.strictObject({
  domain: z.string().regex(HOSTNAME, 'must be a hostname'),
  tls: z.enum(['acme', 'internal', 'off']).default('off'),
  email: z.email().optional(),
  http_port: port.optional(),
  https_port: port.optional(),
  /** The service Caddy routes to (default: the scenario's first service). */
  service: z.string().regex(NAME).optional(),
});

const stageLimit = z.number().int().min(1).max(86_400).optional();

const RESERVED_ENV = new Set(['PORT', 'PATH', 'HOME']);

export const manifestSchema = z.strictObject({
  version: z.literal(1),
  name: z.string().regex(NAME, 'lowercase letters, digits and dashes, 1-63 chars').optional(),
  scenario: z.strictObject({ path: relativePath }),
  target: z.discriminatedUnion('type', [localTargetSchema, sshTargetSchema]),
  ports: z
    .record(z.string().regex(PORT_KEY, 'invalid port name'), port)
    .refine(
      (ports) => new Set(Object.values(ports)).size === Object.values(ports).length,
      'ports must be distinct',
    )
    .default({}),
  env: z
    .record(
      z
        .string()
        .regex(ENV_KEY, 'invalid environment variable name')
        .refine((k) => !RESERVED_ENV.has(k) && !k.startsWith('STAGECOACH_'), 'reserved name'),
      z
        .string()
        .max(65536)
        .refine((v) => !v.includes('\0'), 'may not contain NUL'),
    )
    .default({}),
  edge: edgeSchema.optional(),
  health: z
    .strictObject({ timeout_s: z.number().int().min(1).max(3600).default(60) })
    .default({ timeout_s: 60 }),
  /** Per-stage time limits in seconds; unset ones use STAGE_TIMEOUT_*_S. */
  timeouts: z
    .strictObject({ build_s: stageLimit, setup_s: stageLimit, deploy_s: stageLimit })
    .optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestInput = z.input<typeof manifestSchema>;

/** Zod issues as the API's `details.issues` list. */
export function formatIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    // a rejected record key hides the schema's own message one level down
    message:
      issue.code === 'invalid_key' && issue.issues.length
        ? issue.issues.map((i) => i.message).join('; ')
        : issue.message,
  }));
}
