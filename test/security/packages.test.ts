/**
 * Issue 7, finding 12: setup installed packages named after a start command's first word (a
 * command beginning with `(` made it run `apt-get install '(head'` as root). Now it installs only
 * the scenario's declared `packages` (Debian package names) plus stagecoach's own tools.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BundleError } from '../../shared/bundle/errors.js';
import { parseScenario } from '../../shared/bundle/load-scenario.js';
import { formatIssues } from '../../shared/manifest.js';
import { scenarioSchema } from '../../shared/scenario.js';
import { shellEnvFile } from '../../shared/shell.js';
import { buildManifest, buildScenario, writeScenarioDir } from '../factories.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { serve, type ApiClient } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import {
  assembleRelease,
  cleanUp,
  lastLine,
  manageWith,
  ok,
  resultOf,
  ROOT,
} from '../helpers/target-release.js';

/** A start command whose first word is not a program: `(` opens a subshell. */
const PAREN_START = '(head -c 1 /dev/null; exec node server.js)';
const STAGECOACH_TOOLS = ['bash', 'tar', 'gzip', 'setsid', 'timeout', 'flock'];

describe('security: scenario packages (schema)', () => {
  for (const name of ['nodejs', 'npm', 'python3-pip', 'g++', 'libc6.1-dev', 'r-base']) {
    it(`accepts the package ${name}`, () => {
      expect(scenarioSchema.parse(buildScenario({ packages: [name] })).packages).to.deep.equal([
        name,
      ]);
    });
  }

  for (const name of ['', 'a', 'Node', '-x', '(head', 'foo bar', 'nodejs;rm', "a'b", '.x']) {
    it(`refuses the package ${JSON.stringify(name)} at packages.0`, () => {
      const r = scenarioSchema.safeParse(buildScenario({ packages: [name] }));
      expect(r.success).to.equal(false);
      expect(formatIssues(r.error!).map((i) => i.path)).to.deep.equal(['packages.0']);
    });
  }

  it('refuses duplicates and more than 64 packages', () => {
    expect(scenarioSchema.safeParse(buildScenario({ packages: ['aa', 'aa'] })).success).to.equal(
      false,
    );
    const many = Array.from({ length: 65 }, (_, i) => `p${i}`);
    expect(scenarioSchema.safeParse(buildScenario({ packages: many })).success).to.equal(false);
  });

  it('a build of an invalid scenario.json fails with scenario_invalid naming the package', () => {
    const text = JSON.stringify(buildScenario({ packages: ['nodejs', "'(head'"] }));
    try {
      parseScenario(text, 'examples/bad');
      expect.fail('parsed');
    } catch (err) {
      expect(err).to.be.instanceOf(BundleError);
      expect((err as BundleError).code).to.equal('scenario_invalid');
      expect((err as BundleError).details).to.deep.include({
        path: 'packages.1',
        message: 'must be a Debian package name (lowercase letters, digits, + . -)',
      });
    }
  });

  it('the examples declare what they need (nodejs; npm for the npm build)', () => {
    const read = (name: string) =>
      JSON.parse(readFileSync(path.join(ROOT, 'examples', name, 'scenario.json'), 'utf8'));
    expect(read('hello-web').packages).to.deep.equal(['nodejs']);
    expect(read('notes-api').packages).to.include.members(['nodejs', 'npm']);
  });
});

describe('security: setup installs only declared packages (manage.sh setup)', function () {
  this.timeout(60_000);
  let home: string | undefined;
  let stubDir: string;
  let aptLog: string;
  const pids = new Set<number>();

  before(async () => {
    home = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-pkgs-'));
    // apt-get as setup finds it on PATH: records every call and fails, installing nothing
    stubDir = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-apt-stub-'));
    aptLog = path.join(stubDir, 'calls.log');
    await writeFile(
      path.join(stubDir, 'apt-get'),
      `#!/bin/sh\nprintf '%s\\n' "$*" >> '${aptLog}'\nexit 100\n`,
    );
    await chmod(path.join(stubDir, 'apt-get'), 0o755);
  });

  after(async () => {
    await cleanUp(home, pids);
    await rm(stubDir, { recursive: true, force: true });
  });

  const aptCalls = (): string[] =>
    existsSync(aptLog) ? readFileSync(aptLog, 'utf8').split('\n').filter(Boolean) : [];

  /** Runs manage.sh with the apt-get stub first on PATH. */
  const manage = (release: string, ...args: string[]) =>
    manageWith({ PATH: `${stubDir}:${process.env.PATH}` }, home!, release, ...args);

  /** A hello-web release; `packages` goes into stagecoach.env as the bundle writes it. */
  async function release(name: string, start: string, packages?: string) {
    const port = await freePort();
    const dir = await assembleRelease(home!, name, {
      scenario: 'hello-web',
      services: [{ name: 'web', port, start, build: '(true)' }],
      healthTimeout: 20,
    });
    if (packages !== undefined) {
      await writeFile(
        path.join(dir, 'config', 'stagecoach.env'),
        shellEnvFile({
          STAGECOACH_SCENARIO: 'hello-web',
          STAGECOACH_SERVICES: 'web',
          STAGECOACH_RESOURCES: '',
          STAGECOACH_HEALTH_TIMEOUT: '20',
          STAGECOACH_PACKAGES: packages,
        }),
      );
    }
    return port;
  }

  // regression: setup ran `apt-get install '(head'` (and an update) for this start command
  it('a start command beginning with "(" makes setup install nothing, and the service runs', async () => {
    await rm(aptLog, { force: true });
    await release('paren', PAREN_START);
    const { tools } = resultOf(ok(await manage('paren', 'setup')));
    expect(aptCalls(), 'apt-get calls').to.deep.equal([]);
    expect(Object.keys(tools).sort()).to.deep.equal([...STAGECOACH_TOOLS].sort());
    ok(await manage('paren', 'build'));
    const { services } = resultOf(ok(await manage('paren', 'start')));
    pids.add(services[0].pid);
    ok(await manage('paren', 'health', '20'));
    ok(await manage('paren', 'stop'));
  });

  it('checks declared packages with dpkg and installs exactly the missing ones', async function () {
    if (!existsSync('/usr/bin/dpkg-query')) {
      this.skip();
    }
    await rm(aptLog, { force: true });
    await release('declared', 'node server.js', 'bash stagecoach-no-such-package');
    const r = await manage('declared', 'setup');
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(lastLine(r.stderr)).to.contain('stagecoach-no-such-package');
    const calls = aptCalls();
    expect(calls.length).to.be.greaterThan(0);
    for (const call of calls.filter((c) => / install /.test(c))) {
      expect(call).to.match(/ install stagecoach-no-such-package$/);
    }
  });

  it('reports installed packages with their state and installs nothing', async function () {
    if (!existsSync('/usr/bin/dpkg-query')) {
      this.skip();
    }
    await rm(aptLog, { force: true });
    await release('installed', 'node server.js', 'bash coreutils');
    const res = resultOf(ok(await manage('installed', 'setup')));
    expect(res.packages.bash).to.match(/^\d/);
    expect(res.packages.coreutils).to.match(/^\d/);
    expect(aptCalls()).to.deep.equal([]);
  });

  it('refuses a package name that is not one (exit 2) without calling apt-get', async () => {
    await rm(aptLog, { force: true });
    await release('badname', 'node server.js', 'bash (head');
    const r = await manage('badname', 'setup');
    expect(r.code, r.stdout + r.stderr).to.equal(2);
    expect(lastLine(r.stderr)).to.contain("'(head' in STAGECOACH_PACKAGES");
    expect(aptCalls()).to.deep.equal([]);
  });
});

describe('security: scenario packages through the API and the pipeline', function () {
  this.timeout(180_000);
  let h: Harness;
  let api: ApiClient;
  let scenarios: string;
  const ids: string[] = [];

  before(async () => {
    scenarios = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-pkg-scn-'));
    await writeScenarioDir(scenarios, {
      relPath: 'scn/bad-packages',
      scenario: buildScenario({ packages: ['nodejs', 'Bad Name'] }),
    });
    await writeScenarioDir(scenarios, {
      relPath: 'scn/paren',
      scenario: buildScenario({
        packages: ['nodejs'],
        services: [{ name: 'web', start: PAREN_START, build: '(true)', port: 'web' }],
      }),
    });
    h = await createHarness('redis', { SCENARIOS_DIR: scenarios });
    h.startWorkers();
    api = await serve(h.app);
  });

  after(async () => {
    for (const id of ids) {
      await api.call('POST', `/api/v1/deployments/${id}/stop`, {});
      await api.waitFor(id, ['stopped', 'failed'], 30_000).catch(() => undefined);
    }
    await api?.close();
    await h?.close();
    await rm(scenarios ?? '/nonexistent', { recursive: true, force: true });
  });

  it('answers 422 at scenario.packages.1 to an invalid package name', async () => {
    const res = await api.call('POST', '/api/v1/deployments', {
      manifest: buildManifest({
        scenario: { path: 'scn/bad-packages' },
        target: { type: 'local', workdir: 'targets/bad-packages' },
      }),
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(422);
    expect(res.body.error.code).to.equal('invalid_manifest');
    expect(res.body.error.details.issues.map((i: { path: string }) => i.path)).to.deep.equal([
      'scenario.packages.1',
    ]);
  });

  it('deploys a scenario whose start and build begin with "(", setting up only stagecoach tools', async () => {
    const port = await freePort();
    const res = await api.call('POST', '/api/v1/deployments', {
      execute: true,
      manifest: buildManifest({
        scenario: { path: 'scn/paren' },
        target: { type: 'local', workdir: 'targets/paren' },
        ports: { web: port },
        health: { timeout_s: 30 },
      }),
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    ids.push(res.body.deployment.id);
    const d = await api.waitFor(res.body.deployment.id, ['deployed', 'failed'], 150_000);
    expect(d.status, d.error_message).to.equal('deployed');
    expect(Object.keys(d.setup_result.tools).sort()).to.deep.equal([...STAGECOACH_TOOLS].sort());
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).to.equal('ok');
  });
});
