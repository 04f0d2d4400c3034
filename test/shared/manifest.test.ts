import { expect } from 'chai';
import {
  formatIssues,
  manifestSchema,
  relativePath,
  type ManifestInput,
} from '../../shared/manifest.js';
import { buildManifest } from '../factories.js';

/** The `{path, message}` issues of an input that must be rejected. */
function issuesOf(input: unknown): { path: string; message: string }[] {
  const result = manifestSchema.safeParse(input);
  if (result.success) {
    expect.fail(`expected the manifest to be rejected: ${JSON.stringify(input)}`);
  }
  return formatIssues(result.error);
}

/** The paths of the issues of a manifest built with `overrides` (cast: invalid on purpose). */
const pathsOf = (overrides: Record<string, unknown>): string[] =>
  issuesOf({ ...buildManifest(), ...overrides }).map((i) => i.path);

describe('shared/manifest', () => {
  describe('a valid manifest', () => {
    it('parses and fills in the defaults', () => {
      const { env: _env, ...withoutEnv } = buildManifest();
      const parsed = manifestSchema.parse(withoutEnv);
      expect(parsed).to.deep.equal({
        version: 1,
        scenario: { path: 'examples/hello-web' },
        target: { type: 'local', workdir: 'targets/test' },
        ports: { web: 18080 },
        env: {},
        health: { timeout_s: 60 },
      });
    });

    it('defaults ports to {} and health.timeout_s to 60 inside a given health object', () => {
      const { ports: _p, ...rest } = buildManifest();
      const parsed = manifestSchema.parse({ ...rest, health: {} });
      expect(parsed.ports).to.deep.equal({});
      expect(parsed.health).to.deep.equal({ timeout_s: 60 });
    });

    it('keeps given values: name, env, edge (tls default off), health', () => {
      const parsed = manifestSchema.parse(
        buildManifest({
          name: 'my-app-2',
          env: { GREETING: 'hi there', _x1: '' },
          edge: { domain: 'app.example.com' },
          health: { timeout_s: 3600 },
          ports: { web: 1, 'api_2-x': 65535 },
        }),
      );
      expect(parsed.name).to.equal('my-app-2');
      expect(parsed.env).to.deep.equal({ GREETING: 'hi there', _x1: '' });
      expect(parsed.edge).to.deep.equal({ domain: 'app.example.com', tls: 'off' });
      expect(parsed.health.timeout_s).to.equal(3600);
      expect(parsed.ports).to.deep.equal({ web: 1, 'api_2-x': 65535 });
    });
  });

  describe('strictness', () => {
    it('rejects an unknown top-level key', () => {
      expect(issuesOf({ ...buildManifest(), extra: true })).to.deep.equal([
        { path: '', message: 'Unrecognized key: "extra"' },
      ]);
    });

    const nested: [string, Record<string, unknown>, string][] = [
      ['scenario', { scenario: { path: 'examples/hello-web', ref: 'main' } }, 'scenario'],
      ['target', { target: { type: 'local', workdir: 'targets/test', host: 'x' } }, 'target'],
      ['health', { health: { timeout_s: 5, interval_s: 1 } }, 'health'],
      ['edge', { edge: { domain: 'example.com', proxy: 'caddy' } }, 'edge'],
    ];
    for (const [what, overrides, at] of nested) {
      it(`rejects an unknown key in ${what}`, () => {
        const issues = issuesOf({ ...buildManifest(), ...overrides });
        expect(issues).to.have.length(1);
        expect(issues[0].path).to.equal(at);
        expect(issues[0].message).to.match(/^Unrecognized key/);
      });
    }

    it('requires version 1, scenario and target', () => {
      expect(pathsOf({ version: 2 })).to.deep.equal(['version']);
      expect(
        issuesOf({ ports: {} })
          .map((i) => i.path)
          .sort(),
      ).to.deep.equal(['scenario', 'target', 'version']);
    });

    it('rejects an unknown target type', () => {
      expect(pathsOf({ target: { type: 'docker', workdir: 'targets/x' } })).to.deep.equal([
        'target.type',
      ]);
    });
  });

  describe('ports', () => {
    for (const bad of [0, -1, 65536, 1.5, '8080', null]) {
      it(`rejects port value ${JSON.stringify(bad)}`, () => {
        expect(pathsOf({ ports: { web: bad } })).to.deep.equal(['ports.web']);
      });
    }

    it('accepts the bounds 1 and 65535', () => {
      expect(
        manifestSchema.parse(buildManifest({ ports: { a: 1, b: 65535 } })).ports,
      ).to.deep.equal({ a: 1, b: 65535 });
    });

    it('rejects two names on the same port', () => {
      expect(issuesOf(buildManifest({ ports: { web: 8080, api: 8080 } }))).to.deep.equal([
        { path: 'ports', message: 'ports must be distinct' },
      ]);
    });

    for (const key of ['Web', '-web', 'we b', '', 'a'.repeat(64)]) {
      it(`rejects port name ${JSON.stringify(key)}`, () => {
        expect(pathsOf({ ports: { [key]: 8080 } })).to.deep.equal([`ports.${key}`]);
      });
    }
  });

  describe('env', () => {
    for (const key of ['1ABC', 'A-B', 'A B', 'É', '', 'A=B']) {
      it(`rejects the invalid name ${JSON.stringify(key)}`, () => {
        expect(pathsOf({ env: { [key]: 'v' } })).to.deep.equal([`env.${key}`]);
      });
    }

    for (const key of ['PORT', 'PATH', 'HOME', 'STAGECOACH_', 'STAGECOACH_RUN_ID']) {
      it(`rejects the reserved name ${key}`, () => {
        expect(pathsOf({ env: { [key]: 'v' } })).to.deep.equal([`env.${key}`]);
      });
    }

    it('accepts names that only look like reserved ones', () => {
      const env = { port: 'a', PORTS: 'b', MY_PATH: 'c', STAGECOACH: 'd', stagecoach_x: 'e' };
      expect(manifestSchema.parse(buildManifest({ env })).env).to.deep.equal(env);
    });

    it('rejects a NUL in a value, and accepts newlines, quotes and $(…)', () => {
      expect(issuesOf(buildManifest({ env: { A: 'a\0b' } }))).to.deep.equal([
        { path: 'env.A', message: 'may not contain NUL' },
      ]);
      const env = { A: 'line1\nline2', B: `it's "q" $(id) \`x\`` };
      expect(manifestSchema.parse(buildManifest({ env })).env).to.deep.equal(env);
    });

    it('rejects a value over 64 KiB', () => {
      expect(pathsOf({ env: { BIG: 'x'.repeat(65537) } })).to.deep.equal(['env.BIG']);
      expect(
        manifestSchema.parse(buildManifest({ env: { BIG: 'x'.repeat(65536) } })).env.BIG,
      ).to.have.length(65536);
    });

    // regression: formatIssues reports a bad env/ports key as the generic "Invalid key in record";
    // the schema's own messages ("reserved name", "invalid environment variable name")
    // sit in the zod v4 `invalid_key` issue's nested `issues` and never reach the API client.
    it('says why an env name was rejected', () => {
      expect(issuesOf(buildManifest({ env: { PORT: 'v' } }))).to.deep.equal([
        { path: 'env.PORT', message: 'reserved name' },
      ]);
      expect(issuesOf(buildManifest({ env: { 'A-B': 'v' } }))).to.deep.equal([
        { path: 'env.A-B', message: 'invalid environment variable name' },
      ]);
    });
  });

  describe('relative paths (scenario.path and target.workdir)', () => {
    const cases: [string, string, string][] = [
      ['/etc', 'an absolute path', 'must be a relative path'],
      ['../outside', 'a leading ..', 'may not contain ".."'],
      ['a/../../b', 'a .. in the middle', 'may not contain ".."'],
      ['a/..', 'a trailing ..', 'may not contain ".."'],
      ['a\\..\\b', 'a backslash ..', 'may not contain ".."'],
      ['a\0b', 'a NUL', 'must be a relative path'],
      ['', 'the empty string', 'Too small: expected string to have >=1 characters'],
    ];
    for (const [value, what, message] of cases) {
      it(`rejects ${what} in scenario.path`, () => {
        expect(issuesOf(buildManifest({ scenario: { path: value } }))).to.deep.equal([
          { path: 'scenario.path', message },
        ]);
      });
      it(`rejects ${what} in target.workdir`, () => {
        expect(
          issuesOf(buildManifest({ target: { type: 'local', workdir: value } })),
        ).to.deep.equal([{ path: 'target.workdir', message }]);
      });
    }

    it('accepts names that merely contain dots', () => {
      for (const p of ['a/..b', 'a/b..', '...', './a', 'a/.hidden']) {
        expect(relativePath.safeParse(p).success, p).to.equal(true);
      }
    });

    it('rejects a path over 512 characters', () => {
      expect(relativePath.safeParse('a'.repeat(513)).success).to.equal(false);
      expect(relativePath.safeParse('a'.repeat(512)).success).to.equal(true);
    });
  });

  describe('edge', () => {
    for (const domain of [
      'example.com',
      'a.b-c.example.org',
      'localhost',
      'EXAMPLE.com',
      'x1.io',
    ]) {
      it(`accepts the hostname ${domain}`, () => {
        expect(manifestSchema.parse(buildManifest({ edge: { domain } })).edge?.domain).to.equal(
          domain,
        );
      });
    }

    for (const domain of [
      '',
      'not a host',
      'http://example.com',
      'example.com/path',
      '-a.com',
      'a-.com',
      'a..com',
      'a_b.com',
      'example.com:443',
      `${'a'.repeat(64)}.com`,
    ]) {
      it(`rejects the domain ${JSON.stringify(domain)}`, () => {
        expect(issuesOf(buildManifest({ edge: { domain } }))).to.deep.equal([
          { path: 'edge.domain', message: 'must be a hostname' },
        ]);
      });
    }

    // renderSite (shared/edge.ts) puts both into the Caddyfile as bare tokens
    it('refuses a domain or email that could break out of the Caddy site block', () => {
      for (const domain of [
        'a.com {\n}\nevil.com',
        'a.com}',
        'a.com{',
        'a.com #x',
        '"a.com"',
        'a.com\n',
        'a.com\timport /etc/passwd',
        '{$HOME}.com',
      ]) {
        expect(pathsOf({ edge: { domain } }), JSON.stringify(domain)).to.deep.equal([
          'edge.domain',
        ]);
      }
      for (const email of [
        'ops@example.com\n}',
        'ops}@example.com',
        'a{b}@example.com',
        'a b@example.com',
        'a#b@example.com',
        '"a"@example.com',
        "o'brien@example.com",
        'a\\b@example.com',
        'ops@example.com {',
      ]) {
        expect(
          pathsOf({ edge: { domain: 'example.com', tls: 'acme', email } }),
          JSON.stringify(email),
        ).to.deep.equal(['edge.email']);
      }
    });

    it('checks tls, email and ports', () => {
      const edge = {
        domain: 'example.com',
        tls: 'acme',
        email: 'ops@example.com',
        http_port: 80,
        https_port: 443,
      } as const;
      expect(manifestSchema.parse(buildManifest({ edge })).edge).to.deep.equal(edge);
      expect(pathsOf({ edge: { domain: 'example.com', tls: 'yes' } })).to.deep.equal(['edge.tls']);
      expect(pathsOf({ edge: { domain: 'example.com', email: 'nope' } })).to.deep.equal([
        'edge.email',
      ]);
      expect(pathsOf({ edge: { domain: 'example.com', https_port: 70000 } })).to.deep.equal([
        'edge.https_port',
      ]);
    });
  });

  describe('name and health', () => {
    it('rejects an invalid name', () => {
      for (const name of ['My-App', '-app', 'a'.repeat(64), 'a_b', '']) {
        expect(pathsOf({ name }), name).to.deep.equal(['name']);
      }
    });

    it('rejects a timeout out of 1..3600 or not an integer', () => {
      for (const timeout_s of [0, 3601, 2.5]) {
        expect(pathsOf({ health: { timeout_s } }), String(timeout_s)).to.deep.equal([
          'health.timeout_s',
        ]);
      }
    });
  });

  describe('formatIssues', () => {
    it('returns {path, message} with dotted paths, one per issue', () => {
      const input: Record<string, unknown> = {
        ...buildManifest(),
        version: 3,
        target: { type: 'local', workdir: '/abs' },
        ports: { web: 0 },
        env: { A: 'x\0' },
      };
      const issues = issuesOf(input);
      expect(issues.map((i) => i.path).sort()).to.deep.equal([
        'env.A',
        'ports.web',
        'target.workdir',
        'version',
      ]);
      for (const issue of issues) {
        expect(Object.keys(issue).sort()).to.deep.equal(['message', 'path']);
        expect(issue.message).to.be.a('string').and.not.equal('');
      }
    });

    it('joins numeric path segments as strings', () => {
      const error = manifestSchema.safeParse({ ...buildManifest(), scenario: [] }).error!;
      const issues = formatIssues(error);
      expect(issues.map((i) => i.path)).to.deep.equal(['scenario']);
      const fake = {
        issues: [{ path: ['services', 0, 'port'], message: 'm', code: 'custom', input: null }],
      };
      expect(formatIssues(fake as unknown as Parameters<typeof formatIssues>[0])).to.deep.equal([
        { path: 'services.0.port', message: 'm' },
      ]);
    });
  });

  it('has an input type the factory satisfies', () => {
    const input: ManifestInput = buildManifest();
    expect(manifestSchema.safeParse(input).success).to.equal(true);
  });
});

describe('shared/manifest: ssh targets', () => {
  const ssh = (target: Record<string, unknown>) =>
    manifestSchema.safeParse(
      buildManifest({ target: { type: 'ssh', user: 'deploy', ...target } as never }),
    );

  it('accepts a hostname, IPv4 and IPv6 literals, with defaults for port and workdir', () => {
    for (const host of ['example.com', '203.0.113.10', '2001:db8::1', '::1']) {
      const r = ssh({ host });
      expect(r.success, host).to.equal(true);
      if (r.success && r.data.target.type === 'ssh') {
        expect(r.data.target.port).to.equal(22);
        expect(r.data.target.workdir).to.equal('~/stagecoach');
      }
    }
  });

  it('rejects hosts a shell or ssh could read as syntax or an option', () => {
    for (const host of ['-oProxyCommand=x', 'a b', 'host;rm', '$(id)', 'a`b`', '', '[::1]']) {
      expect(ssh({ host }).success, host).to.equal(false);
    }
  });

  it('checks user, host_key and workdir', () => {
    expect(ssh({ host: 'h', user: 'de ploy' }).success).to.equal(false);
    expect(ssh({ host: 'h', host_key: 'MD5:aa' }).success).to.equal(false);
    expect(ssh({ host: 'h', host_key: `SHA256:${'A'.repeat(43)}` }).success).to.equal(true);
    for (const workdir of ['~/../etc', '/a/../b', 'a b', '~user/x', '$HOME']) {
      expect(ssh({ host: 'h', workdir }).success, workdir).to.equal(false);
    }
    for (const workdir of ['~', '~/apps/x', '/srv/apps', 'apps']) {
      expect(ssh({ host: 'h', workdir }).success, workdir).to.equal(true);
    }
  });
});
