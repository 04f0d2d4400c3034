import { expect } from 'chai';
import { edgePlan, renderSite, type EdgePlan } from '../../shared/edge.js';
import { manifestSchema, type ManifestInput } from '../../shared/manifest.js';
import { buildManifest } from '../factories.js';

/** The plan of a manifest with this edge (ports: web 18080). */
function planOf(edge: NonNullable<ManifestInput['edge']>): EdgePlan {
  return edgePlan(manifestSchema.parse(buildManifest({ edge })), 'web')!;
}

describe('renderSite', () => {
  it('tls internal: HTTPS on the HTTPS port with Caddy’s local CA', () => {
    const plan = planOf({ domain: 'App.Example.com', tls: 'internal', https_port: 8443 });
    expect(renderSite(plan, 18080)).to.equal(
      'https://app.example.com:8443 {\n\ttls internal\n\treverse_proxy 127.0.0.1:18080\n}',
    );
  });

  it('tls acme with an email: the tls line names it; default HTTPS port 443', () => {
    const plan = planOf({ domain: 'app.example.com', tls: 'acme', email: 'ops@example.com' });
    expect(renderSite(plan, 18081)).to.equal(
      'https://app.example.com:443 {\n\ttls ops@example.com\n\treverse_proxy 127.0.0.1:18081\n}',
    );
  });

  it('tls acme without an email: no tls line', () => {
    const plan = planOf({ domain: 'app.example.com', tls: 'acme' });
    expect(renderSite(plan, 18080)).to.equal(
      'https://app.example.com:443 {\n\treverse_proxy 127.0.0.1:18080\n}',
    );
  });

  it('tls off: plain HTTP on the HTTP port (default 80), the email unused', () => {
    expect(renderSite(planOf({ domain: 'app.example.com' }), 18080)).to.equal(
      'http://app.example.com:80 {\n\treverse_proxy 127.0.0.1:18080\n}',
    );
    const plan = planOf({ domain: 'app.example.com', tls: 'off', http_port: 8080 });
    expect(renderSite({ ...plan, email: 'ops@example.com' }, 19000)).to.equal(
      'http://app.example.com:8080 {\n\treverse_proxy 127.0.0.1:19000\n}',
    );
  });
});
