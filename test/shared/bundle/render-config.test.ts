import { expect } from 'chai';
import { BundleError } from '../../../shared/bundle/errors.js';
import { renderConfig } from '../../../shared/bundle/render-config.js';
import { manifestSchema } from '../../../shared/manifest.js';
import { scenarioSchema } from '../../../shared/scenario.js';
import { buildManifest, buildScenario } from '../../factories.js';

const manifest = manifestSchema.parse(
  buildManifest({
    ports: { web: 18080, api: 18081, postgres: 15432 },
    env: { GREETING: "it's me", SECRET: 'a b$c' },
    health: { timeout_s: 90 },
  }),
);
const scenario = scenarioSchema.parse(
  buildScenario({
    services: [
      { name: 'web', start: 'node server.js', port: 'web', build: 'npm ci' },
      { name: 'api', start: 'node api.js --flag', port: 'api', health: '/ready' },
    ],
    resources: ['postgres', 'redis'],
  }),
);

function text(files: ReturnType<typeof renderConfig>, name: string): string {
  const file = files.get(name);
  expect(file, name).not.to.equal(undefined);
  return file!.content.toString('utf8');
}

describe('renderConfig', () => {
  const files = renderConfig(manifest, scenario);

  it('renders exactly the contract files', () => {
    expect([...files.keys()].sort()).to.deep.equal([
      'config/app.env',
      'config/deployment.json',
      'config/resources/postgres.conf',
      'config/resources/redis.conf',
      'config/services/api.env',
      'config/services/web.env',
      'config/stagecoach.env',
      ...[
        'stagecoach-hello-web-api@.service',
        'stagecoach-hello-web-web@.service',
        'stagecoach-hello-web_postgres@.service',
        'stagecoach-hello-web_redis@.service',
      ].flatMap((u) => [`config/systemd/${u}`, `config/systemd/${u}.d/restart-backoff.conf`]),
    ]);
  });

  it('writes stagecoach.env with services in scenario order', () => {
    expect(text(files, 'config/stagecoach.env')).to.equal(
      [
        'STAGECOACH_HEALTH_TIMEOUT=90',
        "STAGECOACH_PACKAGES=''",
        "STAGECOACH_RESOURCES='postgres redis'",
        'STAGECOACH_SCENARIO=hello-web',
        "STAGECOACH_SERVICES='web api'",
        '',
      ].join('\n'),
    );
  });

  it("lists the scenario's packages in stagecoach.env and deployment.json", () => {
    const withPackages = renderConfig(manifest, { ...scenario, packages: ['nodejs', 'npm'] });
    expect(text(withPackages, 'config/stagecoach.env')).to.include(
      "STAGECOACH_PACKAGES='nodejs npm'\n",
    );
    expect(JSON.parse(text(withPackages, 'config/deployment.json')).packages).to.deep.equal([
      'nodejs',
      'npm',
    ]);
  });

  it('writes one env file per service, SERVICE_BUILD empty when absent', () => {
    expect(text(files, 'config/services/web.env')).to.equal(
      "SERVICE_BUILD='npm ci'\nSERVICE_HEALTH=/health\nSERVICE_NAME=web\nSERVICE_PORT=18080\nSERVICE_START='node server.js'\n",
    );
    expect(text(files, 'config/services/api.env')).to.include("SERVICE_BUILD=''\n");
    expect(text(files, 'config/services/api.env')).to.include('SERVICE_HEALTH=/ready\n');
  });

  it('writes resource confs, RESOURCE_PORT empty when the manifest has none', () => {
    expect(text(files, 'config/resources/postgres.conf')).to.equal('RESOURCE_PORT=15432\n');
    expect(text(files, 'config/resources/redis.conf')).to.equal("RESOURCE_PORT=''\n");
  });

  it('writes app.env quoted with mode 0600 and everything else 0644', () => {
    expect(text(files, 'config/app.env')).to.equal("GREETING='it'\\''s me'\nSECRET='a b$c'\n");
    for (const [name, file] of files) {
      expect(file.mode, name).to.equal(name === 'config/app.env' ? 0o600 : 0o644);
    }
  });

  it('writes deployment.json pretty-printed with sorted keys and without env', () => {
    const raw = text(files, 'config/deployment.json');
    const json = JSON.parse(raw) as Record<string, unknown>;
    expect(Object.keys(json)).to.deep.equal([
      'health',
      'packages',
      'ports',
      'resources',
      'scenario',
      'services',
    ]);
    expect(raw).to.equal(`${JSON.stringify(json, null, 2)}\n`);
    expect(raw).not.to.include('SECRET');
    expect(json.resources).to.deep.equal([
      { kind: 'postgres', port: 15432 },
      { kind: 'redis', port: null },
    ]);
    expect(
      (json.services as { name: string; port: number }[]).map((s) => [s.name, s.port]),
    ).to.deep.equal([
      ['web', 18080],
      ['api', 18081],
    ]);
  });

  it('is pure: the same inputs give the same bytes', () => {
    const again = renderConfig(manifest, scenario);
    for (const [name, file] of files) {
      expect(again.get(name)!.content.equals(file.content), name).to.equal(true);
    }
  });

  it('renders config/edge.env only when the manifest has an edge', () => {
    expect(files.has('config/edge.env')).to.equal(false);
    const withEdge = manifestSchema.parse(
      buildManifest({
        ports: manifest.ports,
        edge: { domain: 'App.Example.com', tls: 'acme', email: 'ops@example.com' },
      }),
    );
    expect(text(renderConfig(withEdge, scenario), 'config/edge.env')).to.equal(
      [
        'EDGE_DOMAIN=app.example.com',
        'EDGE_DRAIN_S=10',
        'EDGE_EMAIL=ops@example.com',
        'EDGE_HTTPS_PORT=443',
        'EDGE_HTTP_PORT=80',
        'EDGE_SERVICE=web',
        // the first port above web's (18080) the manifest leaves free: api has 18081
        'EDGE_SPARE_PORT=18082',
        'EDGE_TLS=acme',
        '',
      ].join('\n'),
    );
  });

  it('renders edge.env for tls off without an HTTPS port, routing to edge.service', () => {
    const withEdge = manifestSchema.parse(
      buildManifest({
        ports: manifest.ports,
        edge: { domain: 'api.example.com', tls: 'off', http_port: 8080, service: 'api' },
      }),
    );
    const rendered = renderConfig(withEdge, scenario);
    expect(rendered.get('config/edge.env')!.mode).to.equal(0o644);
    expect(text(rendered, 'config/edge.env')).to.equal(
      [
        'EDGE_DOMAIN=api.example.com',
        'EDGE_DRAIN_S=10',
        "EDGE_EMAIL=''",
        "EDGE_HTTPS_PORT=''",
        'EDGE_HTTP_PORT=8080',
        'EDGE_SERVICE=api',
        'EDGE_SPARE_PORT=18082',
        'EDGE_TLS=off',
        '',
      ].join('\n'),
    );
  });

  it("renders the site for the edge service's port and its spare port (config/edge/)", () => {
    const withEdge = manifestSchema.parse(
      buildManifest({
        ports: manifest.ports,
        edge: { domain: 'App.Example.com', tls: 'internal', https_port: 8443 },
      }),
    );
    const rendered = renderConfig(withEdge, scenario);
    expect([...rendered.keys()].filter((k) => k.startsWith('config/edge/')).sort()).to.deep.equal([
      'config/edge/18080.caddy',
      'config/edge/18082.caddy',
    ]);
    for (const port of [18080, 18082]) {
      const name = `config/edge/${port}.caddy`;
      expect(rendered.get(name)!.mode).to.equal(0o644);
      // renderSite's text plus the newline the target writes after it: the same bytes
      expect(text(rendered, name)).to.equal(
        `https://app.example.com:8443 {\n\ttls internal\n\treverse_proxy 127.0.0.1:${port}\n}\n`,
      );
    }
  });

  it("renders only the manifest port's site when no spare port is free", () => {
    const withEdge = manifestSchema.parse(
      buildManifest({
        ports: { web: 65535, api: 18081, postgres: 15432 },
        edge: { domain: 'app.example.com' },
      }),
    );
    const rendered = renderConfig(withEdge, scenario);
    expect(text(rendered, 'config/edge.env')).to.include("EDGE_SPARE_PORT=''\n");
    expect([...rendered.keys()].filter((k) => k.startsWith('config/edge/'))).to.deep.equal([
      'config/edge/65535.caddy',
    ]);
    expect(text(rendered, 'config/edge/65535.caddy')).to.equal(
      'http://app.example.com:80 {\n\treverse_proxy 127.0.0.1:65535\n}\n',
    );
  });

  it('takes edge.spare_port and edge.drain_s as given', () => {
    const withEdge = manifestSchema.parse(
      buildManifest({
        ports: manifest.ports,
        edge: { domain: 'app.example.com', spare_port: 19000, drain_s: 0 },
      }),
    );
    const env = text(renderConfig(withEdge, scenario), 'config/edge.env');
    expect(env).to.include('EDGE_SPARE_PORT=19000\n').and.include('EDGE_DRAIN_S=0\n');
  });

  it('throws scenario_invalid with issues when the scenario does not fit', () => {
    const bad = manifestSchema.parse(buildManifest({ ports: { web: 18080 } }));
    try {
      renderConfig(bad, scenario);
      expect.fail('renderConfig should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(BundleError);
      expect((err as BundleError).code).to.equal('scenario_invalid');
      expect((err as BundleError).details).to.deep.include({
        path: 'scenario.services.1.port',
        message: 'port "api" is not defined in the manifest\'s ports',
      });
    }
  });
});
