/** Scenario format: a directory holding `scenario.json` (services and resources). */
import { z } from 'zod';

export const RESOURCE_KINDS = ['postgres', 'redis'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** A Debian package name (Debian Policy 5.6.1); setup.sh checks the same pattern. */
export const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const command = z
  .string()
  .min(1)
  .max(4096)
  .refine((c) => !c.includes('\0') && !c.includes('\n'), 'must be a single line');

export const serviceSchema = z.strictObject({
  name: z.string().regex(NAME, 'lowercase letters, digits and dashes, 1-63 chars'),
  build: command.optional(),
  start: command,
  port: z.string().min(1).max(63),
  health: z
    .string()
    .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$/, 'must be an absolute URL path')
    .default('/health'),
});

export const scenarioSchema = z
  .strictObject({
    name: z.string().regex(NAME, 'lowercase letters, digits and dashes, 1-63 chars'),
    services: z.array(serviceSchema).min(1).max(32),
    resources: z.array(z.enum(RESOURCE_KINDS)).max(RESOURCE_KINDS.length).default([]),
    /**
     * Debian packages the services need (e.g. `nodejs`); setup installs the missing ones. Nothing
     * else is installed for the scenario: commands are never read to guess packages.
     */
    packages: z
      .array(
        z
          .string()
          .max(100)
          .regex(PACKAGE_NAME, 'must be a Debian package name (lowercase letters, digits, + . -)'),
      )
      .max(64)
      .refine((p) => new Set(p).size === p.length, 'packages must be unique')
      .optional(),
  })
  .refine((s) => new Set(s.services.map((x) => x.name)).size === s.services.length, {
    message: 'service names must be unique',
    path: ['services'],
  })
  .refine((s) => new Set(s.resources).size === s.resources.length, {
    message: 'resources must be unique',
    path: ['resources'],
  });

export type Scenario = z.infer<typeof scenarioSchema>;
export type Service = z.infer<typeof serviceSchema>;
