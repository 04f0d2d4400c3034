/** The edge (Caddy) settings a manifest implies. */
import type { Manifest } from './manifest.js';

export interface EdgePlan {
  domain: string;
  tls: 'acme' | 'internal' | 'off';
  email?: string;
  httpPort: number;
  /** null when TLS is off (plain HTTP only). */
  httpsPort: number | null;
  /** The service Caddy routes to. */
  service: string;
}

/** The edge of a manifest, with defaults filled in; null without `edge`. */
export function edgePlan(manifest: Manifest, firstService: string): EdgePlan | null {
  const e = manifest.edge;
  if (!e) {
    return null;
  }
  return {
    domain: e.domain.toLowerCase(),
    tls: e.tls,
    email: e.email,
    httpPort: e.http_port ?? 80,
    httpsPort: e.tls === 'off' ? null : (e.https_port ?? 443),
    service: e.service ?? firstService,
  };
}

/** Seconds an old instance drains after Caddy switched away from it, by default. */
export const DEFAULT_DRAIN_S = 10;

/**
 * The spare port of the edge's service (listening on `servicePort`): `edge.spare_port`, else the
 * first port above it that no manifest port or edge port uses. Null when none is left or the
 * given one collides (the check of the scenario against the manifest reports that).
 */
export function sparePort(manifest: Manifest, servicePort: number): number | null {
  const e = manifest.edge;
  if (!e) {
    return null;
  }
  const taken = new Set<number>([
    ...Object.values(manifest.ports),
    e.http_port ?? 80,
    ...(e.tls === 'off' ? [] : [e.https_port ?? 443]),
  ]);
  if (e.spare_port !== undefined) {
    return taken.has(e.spare_port) ? null : e.spare_port;
  }
  for (let p = servicePort + 1; p <= 65535; p++) {
    if (!taken.has(p)) {
      return p;
    }
  }
  return null;
}

/**
 * The Caddy site block of a deployment routing to `127.0.0.1:<upstreamPort>`, without a trailing
 * newline (the target installs it as `sites/<domain>--<id>.caddy`, see docs/target-layout.md).
 * Domain and email go in as bare tokens: the manifest schema admits only hostnames and addresses
 * without space, braces, quotes or `#`.
 */
export function renderSite(plan: EdgePlan, upstreamPort: number): string {
  const proxy = `\treverse_proxy 127.0.0.1:${upstreamPort}`;
  if (plan.tls === 'off') {
    return [`http://${plan.domain}:${plan.httpPort} {`, proxy, '}'].join('\n');
  }
  const tls =
    plan.tls === 'internal' ? ['\ttls internal'] : plan.email ? [`\ttls ${plan.email}`] : [];
  return [`https://${plan.domain}:${plan.httpsPort ?? 443} {`, ...tls, proxy, '}'].join('\n');
}
