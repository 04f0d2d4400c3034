/**
 * Supervised services (scripts/target/supervise.sh, lib/supervision.sh) against
 * docs/target-layout.md's "Supervision": real services in hand-assembled releases, the restart
 * waits shortened through manage.sh's environment.
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../helpers/ports.js';
import { childrenOf, httpStatusOf, pollUntil, staysClosed } from '../helpers/supervision.js';
import {
  assembleRelease,
  cleanUp,
  groupAlive,
  lastLine,
  manageWith,
  ok,
  onPath,
  requireTools,
  resultOf,
} from '../helpers/target-release.js';

/** Short waits so a crash loop ends in seconds: 0.1 s, doubling to 0.4 s; 3 crashes a minute. */
const FAST = {
  STAGECOACH_RESTART_DELAY_S: '0.1',
  STAGECOACH_RESTART_MAX_DELAY_S: '0.4',
  STAGECOACH_RESTART_LIMIT: '3',
  STAGECOACH_RESTART_WINDOW_S: '60',
};

function requireServiceTools(ctx: Mocha.Context): void {
  requireTools(ctx, [
    [onPath('bash'), 'bash', 'bash'],
    [onPath('setsid'), 'setsid', 'util-linux'],
    [onPath('timeout'), 'timeout', 'coreutils'],
    [onPath('node'), 'node', 'nodejs'],
  ]);
}

describe('scripts/target/supervise.sh: a service that dies is restarted', function () {
  this.timeout(60_000);
  let home: string | undefined;
  let port: number;
  const pids = new Set<number>();
  const manage = (...args: string[]) => manageWith(FAST, home!, 'r1', ...args);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const webStatus = async (): Promise<any> => resultOf(ok(await manage('status'))).services[0];

  before(async function () {
    requireServiceTools(this);
    home = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-supervise-'));
    port = await freePort();
    await assembleRelease(home, 'r1', {
      scenario: 'hello-web',
      services: [{ name: 'web', port, start: 'node server.js' }],
    });
  });

  after(() => cleanUp(home, pids));

  /** Starts the release; returns the supervisor's pid (the process group). */
  async function start(): Promise<number> {
    const pid = resultOf(ok(await manage('start'))).services[0].pid as number;
    pids.add(pid);
    await pollUntil('the service to answer', 10_000, async () =>
      (await httpStatusOf(port)) === 200 ? true : undefined,
    );
    return pid;
  }

  it('start runs the service as the child of its supervisor, in the supervisor group', async () => {
    const supervisor = await start();
    const [child] = childrenOf(supervisor);
    expect(child, 'the service process').to.be.a('number');
    const status = await webStatus();
    expect(status).to.include({ pid: supervisor, running: true, state: 'running', restarts: 0 });
    expect(status).to.include({ last_exit: null, last_exit_at: null });
    expect(status.since).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const sup = path.join(home!, 'state', 'run', 'web.sup');
    expect(readFileSync(sup, 'utf8')).to.match(/^running 0 - - \S+Z - 0 3 60000 \d+\n$/);
  });

  it('kill -9 of the service: it answers again and status shows the restart', async () => {
    const supervisor = Number(readFileSync(path.join(home!, 'state/run/web.pid'), 'utf8'));
    const [child] = childrenOf(supervisor);
    process.kill(child, 'SIGKILL');
    const status = await pollUntil('a restart in status', 10_000, async () => {
      const s = await webStatus();
      return s.restarts >= 1 && s.running && (await httpStatusOf(port)) === 200 ? s : undefined;
    });
    expect(status).to.include({ state: 'running', last_exit: 137, pid: supervisor });
    expect(status.last_exit_at).to.match(/Z$/);
    expect(childrenOf(supervisor)).not.to.include(child);
    const log = readFileSync(path.join(home!, 'state/logs/web.log'), 'utf8');
    expect(log).to.match(
      /==== \S+ web exited with SIGKILL \(code 137\) after [\d.]+ s; restarting in 0\.1 s/,
    );
    expect(log).to.contain('web restarting (restart 1): node server.js');
  });

  it('health fails at once after a restart since start, naming the crash', async () => {
    // A restart since start is a crash: the deploy's health check must not call it healthy.
    const r = await manage('health', '20');
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(lastLine(r.stderr)).to.match(
      /crashed: exited with SIGKILL \(code 137\) at \S+Z and was restarted \(1 restart\)/,
    );
  });

  it('TERM to the supervisor alone stops the service and restarts nothing', async () => {
    const supervisor = await start();
    expect((await webStatus()).restarts, 'a fresh start').to.equal(0);
    process.kill(supervisor, 'SIGTERM');
    await pollUntil('the process group to end', 10_000, () =>
      groupAlive(supervisor) ? undefined : true,
    );
    expect(await staysClosed(port, 2000), 'nothing answers again').to.equal(true);
    const status = await webStatus();
    expect(status).to.include({ running: false, state: 'down' });
    expect(readFileSync(path.join(home!, 'state/logs/web.log'), 'utf8')).to.match(
      /web stopped; the service exited with code 0\n$/,
    );
  });

  it('stop leaves nothing running and nothing is restarted afterwards', async () => {
    const supervisor = await start();
    const [child] = childrenOf(supervisor);
    const res = resultOf(ok(await manage('stop')));
    expect(res.stopped).to.deep.equal(['web']);
    expect(groupAlive(supervisor), 'the supervisor group').to.equal(false);
    expect(groupAlive(child), 'anything of the service').to.equal(false);
    expect(await staysClosed(port, 2000), 'nothing answers again').to.equal(true);
    expect(groupAlive(supervisor)).to.equal(false);
    expect(existsSync(path.join(home!, 'state/run/web.sup')), '.sup removed').to.equal(false);
    expect(await webStatus()).to.include({ running: false, state: null, restarts: 0 });
  });
});

describe('scripts/target/supervise.sh: a service that keeps crashing', function () {
  this.timeout(60_000);
  let home: string | undefined;
  let port: number;
  const pids = new Set<number>();
  const manage = (env: NodeJS.ProcessEnv, ...args: string[]) =>
    manageWith({ ...FAST, ...env }, home!, 'r1', ...args);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const status = async (): Promise<any> => resultOf(ok(await manage({}, 'status'))).services[0];

  before(async function () {
    requireServiceTools(this);
    home = await mkdtemp(path.join(os.tmpdir(), 'stagecoach-crashloop-'));
    port = await freePort();
    // Lives long enough for start's exit check, then fails: a crash loop.
    await assembleRelease(home, 'r1', {
      scenario: 'hello-web',
      services: [{ name: 'web', port, start: 'sleep 1; exit 3' }],
    });
  });

  after(() => cleanUp(home, pids));

  it('health fails fast with the crash, well before its timeout', async () => {
    const started = resultOf(ok(await manage({}, 'start')));
    pids.add(started.services[0].pid);
    const t0 = Date.now();
    const r = await manage({}, 'health', '30');
    expect(r.code, r.stdout + r.stderr).to.equal(1);
    expect(Date.now() - t0, 'health returned early').to.be.below(10_000);
    expect(lastLine(r.stderr)).to.match(
      /^service web: unhealthy after 30s: it crashed: exited with code 3/,
    );
    expect(resultOf(r).services[0]).to.include({ name: 'web', process: false });
  });

  it('is left down after the limit, with its last exit, and running:false', async () => {
    const s = await pollUntil('the supervisor to give up', 20_000, async () => {
      const st = await status();
      return st.state === 'down' ? st : undefined;
    });
    expect(s).to.include({ running: false, state: 'down', restarts: 2, last_exit: 3 });
    expect(s.last_exit_at).to.match(/Z$/);
    expect(groupAlive(s.pid), 'the supervisor exits when it gives up').to.equal(false);
    const log = readFileSync(path.join(home!, 'state/logs/web.log'), 'utf8');
    expect(log).to.match(
      /web exited with code 3; down after 3 crashes within 60 s, not restarting it/,
    );
    const r = await manage({}, 'health', '30');
    expect(lastLine(r.stderr)).to.contain(
      'it crashed: down after 3 crashes within 60 s; last exit code 3',
    );
  });

  it('stop while it waits to restart: nothing is restarted afterwards', async () => {
    const slow = { STAGECOACH_RESTART_DELAY_S: '3', STAGECOACH_RESTART_MAX_DELAY_S: '3' };
    const supervisor = resultOf(ok(await manage(slow, 'start'))).services[0].pid as number;
    pids.add(supervisor);
    await pollUntil('the first crash', 10_000, async () =>
      (await status()).state === 'backoff' ? true : undefined,
    );
    ok(await manage({}, 'stop'));
    expect(groupAlive(supervisor)).to.equal(false);
    // the 3 s wait would have ended by now: nothing started again
    await new Promise((r) => setTimeout(r, 3500));
    expect(groupAlive(supervisor)).to.equal(false);
    const log = readFileSync(path.join(home!, 'state/logs/web.log'), 'utf8');
    expect(log.trimEnd().split('\n').pop()).to.match(/web stopped before restarting$/);
  });

  for (const [name, value, message] of [
    ['STAGECOACH_RESTART_DELAY_S', 'soon', "STAGECOACH_RESTART_DELAY_S 'soon' is not a number"],
    ['STAGECOACH_RESTART_DELAY_S', '0', "STAGECOACH_RESTART_DELAY_S '0' must be more than 0"],
    ['STAGECOACH_RESTART_MAX_DELAY_S', '0.05', "STAGECOACH_RESTART_MAX_DELAY_S '0.05' is less"],
    ['STAGECOACH_RESTART_LIMIT', '0', "STAGECOACH_RESTART_LIMIT '0' is not a whole number"],
    ['STAGECOACH_RESTART_WINDOW_S', '-1', "STAGECOACH_RESTART_WINDOW_S '-1' is not a number"],
  ]) {
    it(`start refuses ${name}=${value} (exit 2) before it stops anything`, async () => {
      const r = await manage({ [name]: value }, 'start');
      expect(r.code, r.stdout + r.stderr).to.equal(2);
      expect(lastLine(r.stderr)).to.contain(message);
      expect(r.stdout).not.to.contain('stopping');
    });
  }
});
