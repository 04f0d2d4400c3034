/** Deployment manifest v1: the zod schema shared by the HTTP API and the workers. */
import { z } from 'zod';
import { deniedEnvReason } from './env-names.js';
import { systemDirReason } from './system-dirs.js';

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PORT_KEY = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const HOSTNAME =
  /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

const escapes = (p: string): boolean => p.split(/[\\/]/).includes('..');
const CONTROL = /[\x01-\x1f\x7f]/;

/** A path relative to a base directory that never climbs out of it. */
export const relativePath = z
  .string()
  .min(1)
  .max(512)
  .refine((p) => !p.startsWith('/') && !p.includes('\0'), 'must be a relative path')
  .refine((p) => !escapes(p), 'may not contain ".."')
  .refine((p) => p.includes('\0') || !CONTROL.test(p), 'may not contain control characters');

const port = z.number().int().min(1).max(65535);

/** The characters a local workdir may use: each one is a plain file name on the target. */
const LOCAL_WORKDIR = /^(\.\/)?[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+)*\/?$/;

export const localTargetSchema = z.strictObject({
  type: z.literal('local'),
  workdir: relativePath.refine(
    // only when the rules above pass: one message per problem
    (p) =>
      p === '' ||
      p.startsWith('/') ||
      p.includes('\0') ||
      escapes(p) ||
      CONTROL.test(p) ||
      LOCAL_WORKDIR.test(p),
    'must be a path of letters, digits, ".", "_" and "-" (like targets/app)',
  ),
});

/** `~`, `~/dir`, an absolute path or a path relative to the remote home; no `..`. */
const REMOTE_WORKDIR = /^(~|~\/[A-Za-z0-9._/-]+|\/[A-Za-z0-9._/-]*|[A-Za-z0-9._][A-Za-z0-9._/-]*)$/;
const remoteWorkdir = z
  .string()
  .max(512)
  .regex(REMOTE_WORKDIR, 'must be ~, ~/dir, /abs/dir or dir')
  .refine((p) => !escapes(p), 'may not contain ".."')
  .superRefine((p, ctx) => {
    // an absolute path that passes the rules above: never the root or a system directory
    if (!p.startsWith('/') || !REMOTE_WORKDIR.test(p) || escapes(p)) {
      return;
    }
    const reason = systemDirReason(p);
    if (reason !== undefined) {
      ctx.addIssue({ code: 'custom', message: reason });
    }
  });

/**
 * An email address Caddy's config can hold as one token: zod's rule without the quote it allows,
 * so every address accepted here also passes the target's check (lib/edge.sh, load_edge).
 */
const EMAIL =
  /^(?!\.)(?!.*\.\.)[A-Za-z0-9_+.-]*[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9-]*\.)+[A-Za-z]{2,}$/;

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
  email: z.email({ pattern: EMAIL }).max(254).optional(),
  http_port: port.optional(),
  https_port: port.optional(),
  /** The service Caddy routes to (default: the scenario's first service). */
  service: z.string().regex(NAME).optional(),
  /**
   * The second port of that service: a new release starts there beside the serving one, then
   * Caddy switches to it (default: the first port above the service's that the manifest leaves free).
   */
  spare_port: port.optional(),
  /** Seconds an old instance gets to finish its requests after the switch (default 10). */
  drain_s: z.number().int().min(0).max(3600).optional(),
});

const stageLimit = z.number().int().min(1).max(86_400).optional();

const RESERVED_ENV = new Set(['PORT', 'PATH', 'HOME']);

/** A manifest environment name: a shell identifier that is neither reserved nor denied. */
const envName = z
  .string()
  .regex(ENV_KEY, 'invalid environment variable name')
  .refine((k) => !RESERVED_ENV.has(k) && !k.startsWith('STAGECOACH_'), 'reserved name')
  .superRefine((k, ctx) => {
    const reason = deniedEnvReason(k);
    if (reason !== undefined) {
      ctx.addIssue({ code: 'custom', message: reason });
    }
  });

const envValue = z
  .string()
  .max(65536)
  .refine((v) => !v.includes('\0'), 'may not contain NUL');

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
  env: z.record(envName, envValue).default({}),
  /**
   * Secrets: like env, but sealed at rest, shown as "***", redacted from logs, and written on
   * the target to a 0600 file only. `generate` makes a random value once (kept on re-deploys).
   */
  secrets: z
    .record(
      envName,
      z.union([
        z.strictObject({ value: envValue }),
        z.strictObject({
          generate: z.strictObject({ length: z.number().int().min(8).max(256).default(32) }),
        }),
      ]),
    )
    .optional(),
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
