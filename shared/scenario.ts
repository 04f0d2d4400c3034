/** Scenario format: a directory holding `scenario.json` (services and resources). */
import { z } from 'zod';

export const RESOURCE_KINDS = ['postgres', 'redis'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
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
