/** Cross-checks a scenario against the manifest that deploys it. */
import { sparePort } from '../edge.js';
import type { Manifest } from '../manifest.js';
import { RESOURCE_KINDS, type ResourceKind, type Scenario } from '../scenario.js';

/** One problem found, in the same shape as the API's `details.issues`. */
export interface Issue {
  path: string;
  message: string;
}

/** The env variable the target injects for each declared resource. */
export const RESOURCE_ENV: Record<ResourceKind, string> = {
  postgres: 'DATABASE_URL',
  redis: 'REDIS_URL',
};

const RESOURCE_PORT_KEYS: ReadonlySet<string> = new Set(RESOURCE_KINDS);

/**
 * Issues that make the pair undeployable: a service port key missing from `manifest.ports`,
 * a service using a resource's port key, two services on one port key, `env` defining a
 * variable the target injects for a declared resource, a name in both `env` and `secrets`, or
 * `edge.service` naming no service, or an `edge.spare_port` the manifest uses already.
 * Scenario paths start with `scenario.`.
 */
export function checkScenarioAgainstManifest(
  scenario: Scenario,
  manifest: Pick<Manifest, 'ports' | 'env' | 'edge' | 'secrets'>,
): Issue[] {
  const issues: Issue[] = [];
  const usedBy = new Map<string, string>();
  scenario.services.forEach((service, i) => {
    const at = `scenario.services.${i}.port`;
    const key = service.port;
    if (RESOURCE_PORT_KEYS.has(key)) {
      issues.push({ path: at, message: `port "${key}" is reserved for the ${key} resource` });
    } else if (!Object.hasOwn(manifest.ports, key)) {
      issues.push({ path: at, message: `port "${key}" is not defined in the manifest's ports` });
    }
    const other = usedBy.get(key);
    if (other !== undefined) {
      issues.push({ path: at, message: `port "${key}" is already used by service "${other}"` });
    } else {
      usedBy.set(key, service.name);
    }
  });
  const secrets = manifest.secrets ?? {};
  for (const kind of scenario.resources) {
    const name = RESOURCE_ENV[kind];
    for (const [where, vars] of [
      ['env', manifest.env],
      ['secrets', secrets],
    ] as const) {
      if (Object.hasOwn(vars, name)) {
        issues.push({
          path: `${where}.${name}`,
          message: `${name} is set by the target for the declared ${kind} resource; remove it from ${where}`,
        });
      }
    }
  }
  for (const name of Object.keys(secrets)) {
    if (Object.hasOwn(manifest.env, name)) {
      issues.push({
        path: `secrets.${name}`,
        message: `${name} is in env too; keep it in one of them`,
      });
    }
  }
  const edgeService = manifest.edge?.service;
  if (edgeService !== undefined && !scenario.services.some((s) => s.name === edgeService)) {
    issues.push({
      path: 'edge.service',
      message: `"${edgeService}" is not a service of the scenario; use one of: ${scenario.services.map((s) => s.name).join(', ')}`,
    });
  }
  const spare = manifest.edge?.spare_port;
  if (spare !== undefined && sparePort(manifest as Manifest, spare) === null) {
    issues.push({
      path: 'edge.spare_port',
      message: `port ${spare} is used by the manifest's ports or the edge; choose a free one`,
    });
  }
  return issues;
}
