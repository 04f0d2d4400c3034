/** Renders the bundle's `config/…` files from a manifest and its scenario (no I/O). */
import { DEFAULT_DRAIN_S, edgePlan, renderSite, sparePort, type EdgePlan } from '../edge.js';
import type { Manifest } from '../manifest.js';
import type { Scenario, Service } from '../scenario.js';
import { shellEnvFile } from '../shell.js';
import { checkScenarioAgainstManifest } from './check-scenario.js';
import { BundleError } from './errors.js';
import { SYSTEMD_DIR, systemdUnits } from './systemd-units.js';

/** A generated file: its bytes and its mode inside the tarball. */
export interface RenderedFile {
  content: Buffer;
  mode: number;
}

/** Mode of config files that hold secrets (the app env). */
export const SECRET_MODE = 0o600;
/** Mode of every other generated config file. */
export const PUBLIC_MODE = 0o644;

/**
 * The `config/…` files of the bundle, keyed by archive path, per docs/target-layout.md.
 * Throws `scenario_invalid` (with issues) when the scenario does not fit the manifest.
 */
export function renderConfig(manifest: Manifest, scenario: Scenario): Map<string, RenderedFile> {
  const issues = checkScenarioAgainstManifest(scenario, manifest);
  if (issues.length > 0) {
    throw new BundleError('scenario_invalid', 'the scenario does not fit the manifest', {
      details: issues,
    });
  }
  const files = new Map<string, RenderedFile>();
  const put = (name: string, text: string, mode = PUBLIC_MODE): void => {
    files.set(`config/${name}`, { content: Buffer.from(text, 'utf8'), mode });
  };
  put(
    'deployment.json',
    `${JSON.stringify(sortKeys(deploymentJson(manifest, scenario)), null, 2)}\n`,
  );
  put('stagecoach.env', shellEnvFile(stagecoachEnv(manifest, scenario)));
  put('app.env', shellEnvFile(manifest.env), SECRET_MODE);
  for (const service of scenario.services) {
    put(`services/${service.name}.env`, shellEnvFile(serviceEnv(service, manifest)));
  }
  for (const kind of scenario.resources) {
    put(`resources/${kind}.conf`, shellEnvFile({ RESOURCE_PORT: portText(manifest.ports[kind]) }));
  }
  const edge = edgeConfig(manifest, scenario);
  if (edge) {
    put('edge.env', shellEnvFile(edge.env));
    // one site per port the edge's service may run on: edge-apply picks the live one
    for (const port of edge.upstreams) {
      put(`edge/${port}.caddy`, `${renderSite(edge.plan, port)}\n`);
    }
  }
  for (const [name, text] of systemdUnits(manifest, scenario)) {
    put(`${SYSTEMD_DIR}/${name}`, text);
  }
  return files;
}

/** Returns a deep copy of `value` with every object's keys in sorted order (arrays keep order). */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(sortKeys);
  }
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(obj)
        .sort()
        .map((key) => [key, sortKeys(obj[key])]),
    );
  }
  return value;
}

// Deliberately without `env`: this file is world-readable on the target.
function deploymentJson(manifest: Manifest, scenario: Scenario): Record<string, unknown> {
  return {
    scenario: { name: scenario.name, path: manifest.scenario.path },
    services: scenario.services.map((s) => ({
      name: s.name,
      port_key: s.port,
      port: manifest.ports[s.port],
      start: s.start,
      build: s.build ?? null,
      health: s.health,
    })),
    resources: scenario.resources.map((kind) => ({ kind, port: manifest.ports[kind] ?? null })),
    packages: scenario.packages ?? [],
    ports: manifest.ports,
    health: manifest.health,
  };
}

function stagecoachEnv(manifest: Manifest, scenario: Scenario): Record<string, string> {
  return {
    STAGECOACH_SCENARIO: scenario.name,
    STAGECOACH_SERVICES: scenario.services.map((s) => s.name).join(' '),
    STAGECOACH_RESOURCES: scenario.resources.join(' '),
    // setup.sh installs exactly these (plus stagecoach's own tools)
    STAGECOACH_PACKAGES: (scenario.packages ?? []).join(' '),
    STAGECOACH_HEALTH_TIMEOUT: String(manifest.health.timeout_s),
  };
}

function serviceEnv(service: Service, manifest: Manifest): Record<string, string> {
  return {
    SERVICE_NAME: service.name,
    SERVICE_PORT: portText(manifest.ports[service.port]),
    SERVICE_START: service.start,
    SERVICE_BUILD: service.build ?? '',
    SERVICE_HEALTH: service.health,
  };
}

/** The edge's plan, config/edge.env's variables and the ports its service may run on. */
interface EdgeConfig {
  plan: EdgePlan;
  env: Record<string, string>;
  /** The edge service's manifest port, then its spare port (when one is free). */
  upstreams: number[];
}

/** The edge's config files' contents, or null when the manifest has no edge. */
function edgeConfig(manifest: Manifest, scenario: Scenario): EdgeConfig | null {
  const plan = edgePlan(manifest, scenario.services[0]?.name ?? '');
  if (!plan) {
    return null;
  }
  const service = scenario.services.find((s) => s.name === plan.service);
  const port = service ? manifest.ports[service.port] : undefined;
  const spare = port === undefined ? null : sparePort(manifest, port);
  const env = {
    EDGE_DOMAIN: plan.domain,
    EDGE_TLS: plan.tls,
    EDGE_EMAIL: plan.email ?? '',
    EDGE_HTTP_PORT: String(plan.httpPort),
    EDGE_HTTPS_PORT: portText(plan.httpsPort ?? undefined),
    EDGE_SERVICE: plan.service,
    EDGE_SPARE_PORT: portText(spare ?? undefined),
    EDGE_DRAIN_S: String(manifest.edge?.drain_s ?? DEFAULT_DRAIN_S),
  };
  const upstreams = [port, spare].filter((p): p is number => typeof p === 'number');
  return { plan, env, upstreams };
}

function portText(port: number | undefined): string {
  return port === undefined ? '' : String(port);
}
