import { expect } from 'chai';
import { formatIssues } from '../../shared/manifest.js';
import { RESOURCE_KINDS, scenarioSchema, serviceSchema } from '../../shared/scenario.js';
import { buildScenario } from '../factories.js';

type Service = Record<string, unknown>;
const web = (over: Service = {}): Service => ({
  name: 'web',
  start: 'node server.js',
  port: 'web',
  ...over,
});

/** Issues of a scenario that must be rejected. */
function issuesOf(input: unknown): { path: string; message: string }[] {
  const result = scenarioSchema.safeParse(input);
  if (result.success) {
    expect.fail(`expected the scenario to be rejected: ${JSON.stringify(input)}`);
  }
  return formatIssues(result.error);
}

const pathsOf = (over: Record<string, unknown>): string[] =>
  issuesOf({ ...buildScenario(), ...over }).map((i) => i.path);

describe('shared/scenario', () => {
  it('parses the factory scenario and defaults resources and health', () => {
    expect(scenarioSchema.parse({ name: 'hello-web', services: [web()] })).to.deep.equal({
      name: 'hello-web',
      services: [{ name: 'web', start: 'node server.js', port: 'web', health: '/health' }],
      resources: [],
    });
  });

  describe('names', () => {
    for (const name of ['a', 'hello-web', '0abc', 'a'.repeat(63)]) {
      it(`accepts ${JSON.stringify(name.length > 10 ? `${name.length} chars` : name)}`, () => {
        expect(scenarioSchema.parse(buildScenario({ name })).name).to.equal(name);
        expect(serviceSchema.parse(web({ name })).name).to.equal(name);
      });
    }

    for (const name of ['', '-a', 'Hello', 'a_b', 'a.b', 'a b', 'a'.repeat(64), 'é']) {
      it(`rejects ${JSON.stringify(name.length > 10 ? `${name.length} chars` : name)} as scenario and service name`, () => {
        expect(pathsOf({ name })).to.deep.equal(['name']);
        expect(pathsOf({ services: [web({ name })] })).to.deep.equal(['services.0.name']);
      });
    }
  });

  describe('services', () => {
    it('requires at least one and at most 32', () => {
      expect(pathsOf({ services: [] })).to.deep.equal(['services']);
      const many = Array.from({ length: 33 }, (_, i) => web({ name: `s${i}`, port: `p${i}` }));
      expect(pathsOf({ services: many })).to.deep.equal(['services']);
      expect(
        scenarioSchema.parse(buildScenario({ services: many.slice(0, 32) as never })).services,
      ).to.have.length(32);
    });

    it('rejects duplicate service names', () => {
      expect(
        issuesOf(buildScenario({ services: [web(), web({ port: 'other' })] as never })),
      ).to.deep.equal([{ path: 'services', message: 'service names must be unique' }]);
    });

    it('rejects unknown keys in a service and at the top level', () => {
      expect(pathsOf({ services: [web({ replicas: 2 })] })).to.deep.equal(['services.0']);
      expect(pathsOf({ version: 1 })).to.deep.equal(['']);
    });

    for (const [what, value] of [
      ['a newline', 'node a.js\nrm -rf /'],
      ['a trailing newline', 'node a.js\n'],
      ['a NUL', 'node\0a.js'],
    ] as const) {
      it(`rejects ${what} in start and build`, () => {
        expect(
          issuesOf(buildScenario({ services: [web({ start: value })] as never })),
        ).to.deep.equal([{ path: 'services.0.start', message: 'must be a single line' }]);
        expect(
          issuesOf(buildScenario({ services: [web({ build: value })] as never })),
        ).to.deep.equal([{ path: 'services.0.build', message: 'must be a single line' }]);
      });
    }

    it('accepts a single-line command with shell syntax, and rejects an empty or over-long one', () => {
      const start = `npm run start -- --port "$PORT" && echo 'ok' | tee log; true`;
      expect(serviceSchema.parse(web({ start, build: 'npm ci' }))).to.include({
        start,
        build: 'npm ci',
      });
      expect(pathsOf({ services: [web({ start: '' })] })).to.deep.equal(['services.0.start']);
      expect(pathsOf({ services: [web({ start: 'x'.repeat(4097) })] })).to.deep.equal([
        'services.0.start',
      ]);
    });

    it('requires a port key of 1..63 characters', () => {
      expect(pathsOf({ services: [web({ port: '' })] })).to.deep.equal(['services.0.port']);
      expect(pathsOf({ services: [web({ port: 'p'.repeat(64) })] })).to.deep.equal([
        'services.0.port',
      ]);
      expect(pathsOf({ services: [web({ port: undefined })] })).to.deep.equal(['services.0.port']);
    });
  });

  describe('health path', () => {
    for (const health of ['/', '/health', '/api/v1/health?full=1', '/a-b_c.d~e%20']) {
      it(`accepts ${health}`, () => {
        expect(serviceSchema.parse(web({ health })).health).to.equal(health);
      });
    }

    for (const health of [
      'health',
      '',
      'http://x/health',
      ' /health',
      '/he alth',
      '/a\nb',
      '/a#frag',
    ]) {
      it(`rejects ${JSON.stringify(health)}`, () => {
        expect(issuesOf(buildScenario({ services: [web({ health })] as never }))).to.deep.equal([
          { path: 'services.0.health', message: 'must be an absolute URL path' },
        ]);
      });
    }
  });

  describe('resources', () => {
    it('are exactly postgres and redis', () => {
      expect([...RESOURCE_KINDS]).to.deep.equal(['postgres', 'redis']);
      expect(
        scenarioSchema.parse(buildScenario({ resources: ['redis', 'postgres'] })).resources,
      ).to.deep.equal(['redis', 'postgres']);
    });

    for (const kind of ['mysql', 'Postgres', 'mongodb', '']) {
      it(`rejects ${JSON.stringify(kind)}`, () => {
        expect(pathsOf({ resources: [kind] })).to.deep.equal(['resources.0']);
      });
    }

    it('rejects a duplicate', () => {
      expect(issuesOf(buildScenario({ resources: ['postgres', 'postgres'] }))).to.deep.equal([
        { path: 'resources', message: 'resources must be unique' },
      ]);
    });
  });
});
