import { expect } from 'chai';
import { checkScenarioAgainstManifest } from '../../../shared/bundle/check-scenario.js';
import { manifestSchema } from '../../../shared/manifest.js';
import { scenarioSchema } from '../../../shared/scenario.js';
import { buildManifest, buildScenario, type ScenarioInput } from '../../factories.js';

function check(scenario: Partial<ScenarioInput>, manifest: Parameters<typeof buildManifest>[0]) {
  return checkScenarioAgainstManifest(
    scenarioSchema.parse(buildScenario(scenario)),
    manifestSchema.parse(buildManifest(manifest)),
  );
}

describe('checkScenarioAgainstManifest', () => {
  it('accepts the default pair', () => {
    expect(check({}, {})).to.deep.equal([]);
  });

  it('catches a service port missing from manifest.ports', () => {
    const issues = check({}, { ports: { api: 18081 } });
    expect(issues).to.have.length(1);
    expect(issues[0].path).to.equal('scenario.services.0.port');
    expect(issues[0].message).to.match(/"web" is not defined/);
  });

  it('does not let a service use a resource port key', () => {
    const services = [{ name: 'db', start: 'x', port: 'postgres' }];
    const issues = check({ services }, { ports: { postgres: 15432 } });
    expect(issues.map((i) => i.message)).to.deep.equal([
      'port "postgres" is reserved for the postgres resource',
    ]);
  });

  it('catches two services on one port key', () => {
    const services = [
      { name: 'web', start: 'a', port: 'web' },
      { name: 'api', start: 'b', port: 'web' },
    ];
    expect(check({ services }, {}).map((i) => i.path)).to.deep.equal(['scenario.services.1.port']);
  });

  it('refuses DATABASE_URL / REDIS_URL in env only when the resource is declared', () => {
    const env = { DATABASE_URL: 'x', REDIS_URL: 'y' };
    expect(check({}, { env })).to.deep.equal([]);
    const issues = check({ resources: ['postgres', 'redis'] }, { env });
    expect(issues.map((i) => i.path)).to.deep.equal(['env.DATABASE_URL', 'env.REDIS_URL']);
  });

  it('catches an edge.spare_port the manifest uses already', () => {
    const edge = { domain: 'example.com', http_port: 8080 };
    expect(check({}, { edge: { ...edge, spare_port: 18081 } })).to.deep.equal([]);
    for (const spare_port of [18080, 8080]) {
      expect(check({}, { edge: { ...edge, spare_port } })).to.deep.equal([
        {
          path: 'edge.spare_port',
          message: `port ${spare_port} is used by the manifest's ports or the edge; choose a free one`,
        },
      ]);
    }
  });

  it('catches an edge.service that names no service of the scenario', () => {
    expect(check({}, { edge: { domain: 'example.com', service: 'web' } })).to.deep.equal([]);
    expect(check({}, { edge: { domain: 'example.com' } })).to.deep.equal([]);
    expect(check({}, { edge: { domain: 'example.com', service: 'api' } })).to.deep.equal([
      { path: 'edge.service', message: '"api" is not a service of the scenario; use one of: web' },
    ]);
  });
});
