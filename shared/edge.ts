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
