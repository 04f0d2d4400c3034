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
import { assembleRelease, onPath, requireTools, run } from '../helpers/target-release.js';

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
