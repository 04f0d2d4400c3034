/**
 * manage.sh exec-service (scripts/target/lib/systemd.sh), what a generated systemd unit runs:
 * the record's service in the foreground, the app env as data, exiting with its status. No
 * systemd here: `setsid` stands in for the session systemd gives a service.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { systemdUnits } from '../../shared/bundle/systemd-units.js';
import { manifestSchema } from '../../shared/manifest.js';
import { scenarioSchema } from '../../shared/scenario.js';
import { buildManifest, buildScenario } from '../factories.js';
import {
  assembleRelease,
  cleanUp,
  manage,
  ok,
  onPath,
  requireTools,
  resultOf,
  run,
} from '../helpers/target-release.js';

describe('scripts/target/manage.sh exec-service', function () {
  let home: string | undefined;
  let release: string;
  const port = 18999;

  /** Runs `setsid ./manage.sh exec-service <record>` in release r1 with a clean environment. */
  function execService(record: string, env: NodeJS.ProcessEnv = {}) {
    return run('setsid', ['--wait', './manage.sh', 'exec-service', record], {
      cwd: release,
      env: { PATH: process.env.PATH, HOME: home, STAGECOACH_HOME: home, ...env },
    });
  }

  function info(record: string, text: string): Promise<void> {
    return writeFile(path.join(home!, 'state', 'run', `${record}.info`), text, { mode: 0o600 });
  }

  before(async function () {
    requireTools(this, [
      [onPath('bash'), 'bash', 'bash'],
      [onPath('setsid'), 'setsid', 'util-linux'],
    ]);
    home = await realpath(await mkdtemp(path.join(os.tmpdir(), 'stagecoach-exec-service-')));
    release = await assembleRelease(home, 'r1', {
      scenario: 'hello-web',
      services: [
        {
          name: 'web',
          port,
          start:
            'printf "greeting=%s port=%s leak=%s\\n" "$GREETING" "$PORT" "${LEAK-unset}"; exit 7',
        },
      ],
      env: { GREETING: "it's $HOME `not run`" },
    });
    await mkdir(path.join(home, 'state', 'run'), { recursive: true, mode: 0o700 });
  });

  after(async () => {
    if (home) {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("runs the record's start command with the app env as data and exits with its status", async () => {
    await info('web', `0 ${port} ${release}\n`);
    const r = await execService('web', { LEAK: 'from the caller' });
    expect(r.code, r.stderr).to.equal(7);
    const log = readFileSync(path.join(home!, 'state', 'logs', 'web.log'), 'utf8');
    expect(log).to.match(/==== \S+ starting web under systemd \(release r1, port 18999\)/);
    expect(log).to.include(`greeting=it's $HOME \`not run\` port=${port} leak=unset\n`);
    // it recorded itself as the record's process, as launch_service records a service
    const [start, infoPort, infoRelease] = readFileSync(
      path.join(home!, 'state', 'run', 'web.info'),
      'utf8',
    )
      .trim()
      .split(' ');
    expect(Number(start)).to.be.greaterThan(0);
    expect([infoPort, infoRelease]).to.deep.equal([String(port), release]);
    expect(readFileSync(path.join(home!, 'state', 'run', 'web.pid'), 'utf8')).to.match(/^\d+\n$/);
  });

  it('takes the port from the record: a spare slot runs on its own', async () => {
    await info('web.b', `0 18998 ${release}\n`);
    const r = await execService('web.b');
    expect(r.code, r.stderr).to.equal(7);
    expect(readFileSync(path.join(home!, 'state', 'logs', 'web.log'), 'utf8')).to.include(
      'port=18998 leak=unset\n',
    );
  });

  it('refuses (exit 2) a record another release launched, a missing record, a bad name', async () => {
    await info('web', `0 ${port} ${path.join(home!, 'releases', 'r0')}\n`);
    const other = await execService('web');
    expect(other.code).to.equal(2);
    expect(other.stderr).to.include("names release 'r0', not this one (r1)");
    await rm(path.join(home!, 'state', 'run', 'web.info'));
    const missing = await execService('web');
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.include('web.info is missing');
    for (const bad of ['api', 'web.c', '../web', 'web\nx']) {
      expect((await execService(bad)).code, bad).to.equal(2);
    }
    expect(existsSync(path.join(home!, 'state', 'run', 'api.pid'))).to.equal(false);
  });
});

describe('systemd mode guard (scripts/target/lib/systemd-services.sh)', function () {
  let home: string | undefined;
  let release: string;
  const port = 18996;
  const template = 'stagecoach-hello-web-web@.service';
  const redisPort = 18994;
  const redisTemplate = 'stagecoach-hello-web_redis@.service';

  before(async function () {
    // On a host that runs systemd the guard may rightly hold: nothing to assert here.
    if (existsSync('/run/systemd/system')) {
      this.skip();
    }
    requireTools(this, [
      [onPath('bash'), 'bash', 'bash'],
      [onPath('setsid'), 'setsid', 'util-linux'],
    ]);
    home = await realpath(await mkdtemp(path.join(os.tmpdir(), 'stagecoach-systemd-guard-')));
    release = await assembleRelease(home, 'r1', {
      scenario: 'hello-web',
      services: [{ name: 'web', port, start: 'exec sleep 60' }],
    });
    await writeUnits(release, []);
  });

  /** The bundle's real units (a local target: no User=, so root alone could use them). */
  async function writeUnits(dir: string, resources: ('postgres' | 'redis')[]): Promise<void> {
    const units = systemdUnits(
      manifestSchema.parse(buildManifest({ ports: { web: port } })),
      scenarioSchema.parse(buildScenario({ resources })),
    );
    for (const [name, text] of units) {
      await mkdir(path.dirname(path.join(dir, 'config', 'systemd', name)), { recursive: true });
      await writeFile(path.join(dir, 'config', 'systemd', name), text);
    }
  }

  after(async () => {
    await cleanUp(home, new Set());
  });

  it('is false without /run/systemd/system, though the bundle has units', async () => {
    expect(existsSync(path.join(release, 'config', 'systemd', template))).to.equal(true);
    const r = await run(
      'bash',
      [
        '-c',
        `set -euo pipefail
         RELEASE_DIR=$PWD CONFIG_DIR=$PWD/config HOME_DIR=$1
         source lib/common.sh; source lib/systemd.sh; source lib/systemd-services.sh
         if systemd_usable; then echo usable=true; else echo usable=false; fi
         systemd_mode_init
         echo "mode=$SYSTEMD_MODE"`,
        '_',
        home!,
      ],
      { cwd: release },
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.equal('usable=false\nmode=false\n');
  });

  it('leaves start, status and stop on the supervised path: no unit installed or recorded', async () => {
    const runDir = path.join(home!, 'state', 'run');
    const started = resultOf(ok(await manage(home!, 'r1', 'start')));
    expect(started.services[0]).to.include({ name: 'web', record: 'web', port });
    expect(existsSync(path.join(runDir, 'web.sup'))).to.equal(true);
    for (const f of ['web.unit', 'web.release']) {
      expect(existsSync(path.join(runDir, f)), f).to.equal(false);
    }
    expect(existsSync(path.join('/etc/systemd/system', template))).to.equal(false);
    const status = resultOf(ok(await manage(home!, 'r1', 'status')));
    expect(status.services[0]).to.include({ name: 'web', running: true, state: 'running' });
    const stopped = resultOf(ok(await manage(home!, 'r1', 'stop')));
    expect(stopped.stopped).to.deep.equal(['web']);
    expect(existsSync(path.join(runDir, 'web.pid'))).to.equal(false);
  });

  it('leaves start-resources, status and stop --resources on the detached path', async function () {
    requireTools(this, [[onPath('redis-server'), 'redis-server', 'redis-server']]);
    const dir = path.join(home!, 'state', 'resources', 'redis');
    const r2 = await assembleRelease(home!, 'r2', {
      scenario: 'hello-web',
      services: [{ name: 'web', port, start: 'exec sleep 60' }],
      resources: { redis: redisPort },
    });
    await writeUnits(r2, ['redis']);
    expect(existsSync(path.join(r2, 'config', 'systemd', redisTemplate))).to.equal(true);
    const started = resultOf(ok(await manage(home!, 'r2', 'start-resources')));
    expect(started.resources[0]).to.include({ kind: 'redis', port: redisPort, started: true });
    for (const f of ['unit', 'release']) {
      expect(existsSync(path.join(dir, f)), f).to.equal(false);
    }
    expect(existsSync(path.join('/etc/systemd/system', redisTemplate))).to.equal(false);
    const status = resultOf(ok(await manage(home!, 'r2', 'status')));
    expect(status.resources[0]).to.deep.equal({ kind: 'redis', port: redisPort, running: true });
    ok(await manage(home!, 'r2', 'stop', '--resources'));
    const after = resultOf(ok(await manage(home!, 'r2', 'status')));
    expect(after.resources[0]).to.include({ kind: 'redis', running: false });
  });
});
